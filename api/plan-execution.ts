import { WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { planWorkflowId } from '../db/repositories/plans';
import type { provisioningPlan } from '../workflows';
import { PortalStatus, PortalTenantId } from '../workflows/search-attributes';

/**
 * Starts a round of a plan's execution under `plan:<id>`. Idempotent per round: a run of that round that is
 * going on is reused and a finished first round is not repeated (false is returned then). A retry round
 * (round > 1) starts a new run under the same ID only when no run is open: the previous round's run, which
 * has recorded its end and is closing, is waited for (up to `PREVIOUS_ROUND_CLOSE_MS`); one still open after
 * that throws WorkflowExecutionAlreadyStartedError (the round stays claimed: start it again).
 */
export async function startPlanRound(
  temporal: { client: Client; taskQueue: string }, input: { tenantId: string; planId: string; round: number; origin: string },
): Promise<boolean> {
  const retry = input.round > 1;
  const workflowId = planWorkflowId(input.planId);
  const start = () => temporal.client.workflow.start<typeof provisioningPlan>('provisioningPlan', {
    taskQueue: temporal.taskQueue,
    workflowId,
    args: [{ tenantId: input.tenantId, planId: input.planId, round: input.round }],
    workflowIdReusePolicy: retry ? WorkflowIdReusePolicy.ALLOW_DUPLICATE : WorkflowIdReusePolicy.REJECT_DUPLICATE,
    workflowIdConflictPolicy: retry ? WorkflowIdConflictPolicy.FAIL : WorkflowIdConflictPolicy.USE_EXISTING,
    typedSearchAttributes: [{ key: PortalTenantId, value: input.tenantId }, { key: PortalStatus, value: 'running' }],
    memo: { kind: 'provisioning-plan', origin: input.origin, round: input.round },
  });
  try {
    await start();
    return true;
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    if (!retry) return false;
    // The open run is this round's (a repeated start) or the previous round's: it records its end before
    // its run closes, so a retry asked for at once finds it closing. Wait for that, then start.
    const previous = temporal.client.workflow.getHandle(workflowId);
    if ((await previous.describe()).memo?.round === input.round) return false;
    if (!(await closesWithin(previous, PREVIOUS_ROUND_CLOSE_MS))) throw err;
    await start();
    return true;
  }
}

/** How long a retry waits for the previous round's run, which has recorded its end, to close. */
const PREVIOUS_ROUND_CLOSE_MS = 10_000;

/** Whether a run closes (however it ends) within `ms`. */
async function closesWithin(handle: WorkflowHandle, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([handle.result().then(() => true, () => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
