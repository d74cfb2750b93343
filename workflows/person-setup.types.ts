/** Wire types of the person-setup workflow, shared by the API, the workflow and its activity. */

/** Who asked for the setup: recorded in audit events. */
export interface SetupActor {
  kind: 'api_token' | 'cli' | 'system';
  id: string;
}

export interface PersonSetupInput {
  tenantId: string;
  personId: string;
  displayName: string;
  email: string | null;
  profile: Record<string, string | number | boolean | null>;
  groupIds: string[];
  actor: SetupActor;
  requestId: string | null;
}

export interface PersonSetupResult {
  personId: string;
  /** Groups the person was added to by this setup (already-present memberships are not counted twice). */
  groupIds: string[];
  edgesCreated: number;
  /** False when the person had already been set up (a retried activity or a duplicate run). */
  applied: boolean;
}

export type PersonSetupStatus = 'running' | 'completed' | 'failed';

export interface PersonSetupState {
  status: PersonSetupStatus;
  result: PersonSetupResult | null;
  failure: string | null;
}

/** The business ID of a person's setup run: operators search the Temporal UI by it. */
export function personSetupWorkflowId(tenantId: string, personId: string): string {
  return `person-setup:${tenantId}:${personId}`;
}
