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
    // its run closes, so a retry asked for at once finds it closing. Wait for that run, then start.
    const open = await temporal.client.workflow.getHandle(workflowId).describe();
    if (open.memo?.round === input.round) return false;
    if (!(await closesWithin(temporal.client.workflow.getHandle(workflowId, open.runId), PREVIOUS_ROUND_CLOSE_MS))) throw err;
    try {
      await start();
      return true;
    } catch (again) {
      // Started meanwhile by a concurrent call for the same round: that is this round's run.
      if (!(again instanceof WorkflowExecutionAlreadyStartedError)) throw again;
      if ((await temporal.client.workflow.getHandle(workflowId).describe()).memo?.round === input.round) return false;
      throw again;
    }
  }
}

/** How long a retry waits for the previous round's run, which has recorded its end, to close. */
const PREVIOUS_ROUND_CLOSE_MS = 10_000;

/** Whether this run (pinned by its run id) is closed within `ms`, looked at every 100 ms. */
async function closesWithin(run: WorkflowHandle, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if ((await run.describe()).status.name !== 'RUNNING') return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
