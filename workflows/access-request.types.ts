/** Wire types of the access-request workflow, shared by the API, the workflow and its activities. */
import type { BundleDefinition, BundleItem, Decision, StageDecision } from './access-policy';

export type RequestStatus = 'pending' | 'approved' | 'granted' | 'denied' | 'cancelled' | 'expired' | 'revoked';

export interface AccessRequestInput {
  tenantId: string;
  requestId: string;
  bundleId: string;
  bundleVersion: number;
  /** The bundle as of `bundleVersion`: later edits never reach a running request. */
  definition: BundleDefinition;
  beneficiaryPersonId: string;
  submittedByPersonId: string | null;
  submittedByTokenId: string;
  justification: string;
  /** How long the grant lasts (seconds), or null for no expiry. */
  durationSeconds: number | null;
  /**
   * What the submission asked for, hashed (see submissionHash), recorded with the request so a replayed
   * Idempotency-Key can be checked against it. Optional: runs started before it existed lack it.
   */
  submissionHash?: string | null;
}

export interface DecideInput {
  personId: string;
  decision: Decision;
  comment: string | null;
}

export interface CancelInput {
  /** The person cancelling, or null for an administrator's token. */
  personId: string | null;
  tokenId: string;
  /** True when the caller holds portal.requests.manage and may cancel anyone's request. */
  administrative: boolean;
  reason: string | null;
}

export interface StageState {
  index: number;
  name: string;
  approvers: string[];
  /** Approvals needed; null when the resolved approvers can never meet the quorum. */
  required: number | null;
  decisions: StageDecision[];
  escalated: boolean;
}

export interface AccessRequestState {
  requestId: string;
  status: RequestStatus;
  bundleVersion: number;
  /** The stage waiting for decisions, or null when none is. */
  currentStage: number | null;
  stages: StageState[];
  grantedAt: string | null;
  expiresAt: string | null;
}

/** One approver's decision as it is recorded. */
export interface DecisionRecord {
  tenantId: string;
  requestId: string;
  bundleVersion: number;
  stage: number;
  personId: string;
  decision: Decision;
  comment: string | null;
}

/** What granting an approved request needs (the workflow's grant activity and the API's fast path). */
export interface GrantRequestInput {
  tenantId: string;
  requestId: string;
  bundleVersion: number;
  stage: number | null;
  beneficiaryPersonId: string;
  items: BundleItem[];
  durationSeconds: number | null;
  /** The decision that met the last quorum, recorded in the same transaction. */
  decision?: DecisionRecord;
}

/**
 * The answer to a decision. `grant` is set when this decision met the last quorum: the caller may commit
 * the grant at once (the workflow commits the same grant too; whichever is second changes nothing).
 */
export interface DecideResult {
  state: AccessRequestState;
  grant: GrantRequestInput | null;
}

/** The business ID of a request's workflow: operators search the Temporal UI by it. */
export function accessRequestWorkflowId(requestId: string): string {
  return `access-request:${requestId}`;
}
