/** Wire types of HR events and the lifecycle workflow, shared by the API, the workflow and its activities. */
import type { EligibilityRule } from './access-policy';

export type HrEventType = 'hire' | 'update' | 'termination' | 'rehire' | 'cancellation';

/**
 * The event types that start, end or cancel a run. Only a newer one of these supersedes a late one: a late
 * update or a late termination after a newer update still counts, in order.
 */
export const lifecycleEventTypes: readonly HrEventType[] = ['hire', 'termination', 'rehire', 'cancellation'];

/** An HR event as the HR system sends it (validated by the API before it is stored). */
export interface HrEventPayload {
  eventId: string;
  type: HrEventType;
  employeeId: string;
  /** When the HR system produced the event: events of a person are applied in this order. */
  occurredAt: string;
  /** When the change takes effect (ISO date or date-time); a future value schedules the run or the update. */
  effectiveAt: string | null;
  displayName: string | null;
  /** Profile fields by API name (department, location, workerType, manager as an employee id, ...). */
  profile: Record<string, string | number | boolean | null>;
  /** For `cancellation`: the hire, termination or future-dated update it cancels. */
  cancelsEventId: string | null;
}

/** What the lifecycle workflow is signalled with: the stored event. */
export interface LifecycleEvent {
  /** Portal's id of the stored event row. */
  id: string;
  payload: HrEventPayload;
}

export type LifecycleKind = 'joiner' | 'mover' | 'leaver';

export type LifecycleStep =
  | { type: 'activate' }
  | { type: 'grant_birthright' }
  | { type: 'reconcile_birthright' }
  | { type: 'disable' }
  | { type: 'revoke_all_access' }
  | { type: 'notify_manager' }
  | { type: 'wait'; seconds: number }
  | { type: 'delete' };

/** A birthright bundle: granted while the person matches `when`, revoked (mover) when they no longer do. */
export interface BirthrightRule {
  bundleId: string;
  when: EligibilityRule[];
}

export interface LifecycleTemplateDefinition {
  steps: LifecycleStep[];
  /** Used by the joiner template (and reconciled against by movers). */
  birthright: BirthrightRule[];
}

export interface LifecycleRunStep {
  step: LifecycleStep['type'];
  at: string;
  outcome: 'applied' | 'already_in_state' | 'skipped';
  details: Record<string, unknown>;
}

/** A manual kickoff through the API. */
export interface LifecycleKickoff {
  kind: LifecycleKind;
  reason: string;
  runId: string;
  actor: { kind: 'api_token' | 'person'; id: string };
}

/** A run waiting for its date. */
export interface ScheduledRun {
  runId: string;
  kind: 'joiner' | 'leaver';
  dueAt: string;
  /** The event that scheduled it, or the last correction of its date. */
  eventId: string | null;
  /**
   * Every event of the run's chain: the one that first scheduled it and each correction, so a cancellation
   * naming any of them cancels it. Absent in state written before patch `lifecycle-late-events`.
   */
  eventIds?: string[];
}

/** A profile update dated in the future, waiting for its effective date (patch `lifecycle-dated-updates`). */
export interface DatedUpdate {
  event: LifecycleEvent;
  /** Its effectiveAt, normalised: the update applies then, observed as of then. */
  dueAt: string;
  /** The mover run recorded as scheduled when the update changes a mover attribute (shown as upcoming), else null. */
  runId: string | null;
}
export type PersonLifecycleState = 'unknown' | 'active' | 'disabled' | 'deleted';

export interface LifecycleState {
  tenantId: string;
  personId: string;
  personState: PersonLifecycleState;
  /** The newest event applied (a late one is labelled so; profile values never go back in time). */
  lastOccurredAt: string | null;
  /**
   * The newest hire, termination, rehire or cancellation applied: an older one of these arriving later is
   * superseded. Absent in state written before patch `lifecycle-late-events`.
   */
  lastLifecycleAt?: string | null;
  /**
   * Events that failed because no hire had been seen yet, oldest first, re-applied once a hire creates the
   * person (bounded). Absent in state written before patch `lifecycle-late-events`.
   */
  awaitingHire?: LifecycleEvent[];
  scheduled: ScheduledRun | null;
  /**
   * A fixed-term hire's leaver: a termination dated after a scheduled joiner's start, recorded as a scheduled
   * run, that takes the `scheduled` slot once the joiner has run. Absent before `lifecycle-late-events`.
   */
  leaverAfterJoiner?: ScheduledRun | null;
  /** A run paused by a `wait` step (a leaver's retention wait): its remaining steps resume at `dueAt`. */
  resume: {
    runId: string; kind: LifecycleKind; dueAt: string; steps: LifecycleStep[];
    /** The events of the run's chain, so a cancellation of its termination ends it. Absent before `lifecycle-late-events`. */
    eventIds?: string[];
  } | null;
  /** Updates waiting for their effective date, soonest first. Absent before patch `lifecycle-dated-updates`. */
  datedUpdates?: DatedUpdate[];
  /**
   * Cancellations that named no pending event (`eventId`: the event named, `by`: the cancellation), latest
   * last, bounded: a future-dated update arriving after its cancellation is superseded. Absent before patch
   * `lifecycle-dated-updates`.
   */
  unmatchedCancellations?: { eventId: string; by: string }[];
  /**
   * The updates the last leaver ended (`runId`: that leaver), restored if its termination is cancelled while
   * it waits to delete the person. Absent before patch `lifecycle-dated-updates`.
   */
  droppedByLeaver?: { runId: string; updates: DatedUpdate[] } | null;
  eventsProcessed: number;
  /** Row ids of the most recent events seen, so a repeated delivery of one is ignored. */
  recentEventIds: string[];
  /** Run ids of the most recent kickoffs, so a repeated one runs once. Absent before `lifecycle-late-events`. */
  recentKickoffs?: string[];
}

/** What applying an HR event's profile data found and changed. */
export interface AppliedHrEvent {
  personExists: boolean;
  changed: string[];
  /** The person's status in Portal (absent when they do not exist, and in histories before it was returned). */
  personStatus?: string;
}

/** The attributes among `changed` whose change makes a mover. */
export const movedAttributes = (changed: readonly string[]) => changed.filter((a) => moverAttributes.includes(a));

/** The outcome of an update that made no mover. */
export const profileUpdatedOutcome = (changed: readonly string[]) => `profile updated (${changed.join(', ') || 'no change'})`;

/** Where a person stands for their lifecycle, from their status in Portal (pending: not yet known). */
export function lifecycleStateOf(status: string | undefined): PersonLifecycleState {
  return status === 'active' || status === 'disabled' || status === 'deleted' ? status : 'unknown';
}

export interface LifecycleInput {
  tenantId: string;
  personId: string;
  /** Carried across continue-as-new. */
  state?: LifecycleState;
  /** Continue-as-new after this many events in one run (tests use a small number). */
  continueAfterEvents?: number;
}

/** The business ID of a person's lifecycle: operators search the Temporal UI by it. */
export function lifecycleWorkflowId(tenantId: string, personId: string): string {
  return `lifecycle:${tenantId}:${personId}`;
}

/** Default templates, used until a tenant stores its own. */
export function defaultTemplate(kind: LifecycleKind, leaverDeleteAfterSeconds: number): LifecycleTemplateDefinition {
  switch (kind) {
    case 'joiner':
      return { steps: [{ type: 'activate' }, { type: 'grant_birthright' }, { type: 'notify_manager' }], birthright: [] };
    case 'mover':
      return { steps: [{ type: 'reconcile_birthright' }, { type: 'notify_manager' }], birthright: [] };
    case 'leaver':
      return {
        steps: [{ type: 'disable' }, { type: 'revoke_all_access' }, { type: 'notify_manager' }, { type: 'wait', seconds: leaverDeleteAfterSeconds }, { type: 'delete' }],
        birthright: [],
      };
  }
}

/** Profile fields whose change makes an update a mover. */
export const moverAttributes = ['department', 'departmentCode', 'location', 'workerType', 'jobCode', 'jobTitle', 'division', 'businessUnit', 'costCenter', 'manager'];
