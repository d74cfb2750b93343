/** Types shared by the plan workflow, its activities and the API. Pure data. */

/** What the plan workflow needs to know of a step to schedule it (its parameters stay in PostgreSQL). */
export interface PlanStepShape {
  key: string;
  dependsOn: string[];
  target: 'portal' | 'connector';
  /** For connector steps: the plugin kind, which names the task queue the step runs on. */
  connectorKind: string | null;
  /**
   * For connector steps: the instance (one tenant's connection to the vendor), the fairness key its vendor
   * rate limit applies to. Absent in graphs of older histories.
   */
  connectorInstanceId?: string | null;
  operation: string;
  /** For steps that may await a callback: how long to wait before the step is `unverifiable`. */
  callbackDeadlineSeconds: number | null;
}

export interface PlanExecutionInput {
  tenantId: string;
  planId: string;
  /** 1 for the first execution, one more for each operator retry of failed steps. */
  round: number;
  /** At most this many steps run at once (default 4). */
  maxParallel?: number;
  /**
   * The step graph, when the plan's recorder recorded this round as running (a derived plan's first round):
   * the run then starts scheduling at once. Without it the run loads the graph and records the round.
   */
  graph?: LoadedPlan;
}

/** Where a step stands in this round. */
export type StepRunStatus = 'pending' | 'running' | 'awaiting_callback' | 'succeeded' | 'failed' | 'blocked';

export type PlanRunStatus = 'running' | 'completed' | 'completed_with_failures';

export interface PlanRunState {
  planId: string;
  round: number;
  status: PlanRunStatus;
  steps: Record<string, { status: StepRunStatus; outcome: string | null }>;
}

/** What the plan's activities answer for one step. */
export interface StepExecutionResult {
  /** The evidence outcome recorded for the attempt that ended the step (or started its wait). */
  outcome: 'applied' | 'already_in_state' | 'awaiting_callback';
  /** For `awaiting_callback`: the callback token's id, which the callback must present. */
  callbackTokenId?: string;
  /** The step was the plan's last outstanding one: its success recorded the plan completed, with its audit event. */
  completedPlan?: boolean;
}

/** A callback that completes an awaiting step (validated by the API, then checked again by the workflow). */
export interface StepCallbackInput {
  stepKey: string;
  tokenId: string;
  result: 'completed' | 'failed';
  /** Non-secret facts from the caller (ticket number, job id). */
  detail: Record<string, unknown>;
}

export interface LoadedPlan {
  steps: PlanStepShape[];
  /** Keys of steps that succeeded in an earlier round (or in the transaction that created the plan). */
  succeeded: string[];
}
