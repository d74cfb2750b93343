import { WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { planWorkflowId } from '../db/repositories/plans';
import type { provisioningPlan } from '../workflows';
import { PortalStatus, PortalTenantId } from '../workflows/search-attributes';

/**
 * Starts a round of a plan's execution under `plan:<id>`. Idempotent per round: a run of that round that is
 * going on is reused and a finished first round is not repeated (false is returned then). A retry round
 * (round > 1) starts a new run under the same ID only when no run is open; while the previous round's run is
 * still closing it throws WorkflowExecutionAlreadyStartedError (the round stays claimed: start it again).
 */
export async function startPlanRound(
  temporal: { client: Client; taskQueue: string }, input: { tenantId: string; planId: string; round: number; origin: string },
): Promise<boolean> {
  const retry = input.round > 1;
  const workflowId = planWorkflowId(input.planId);
  try {
    await temporal.client.workflow.start<typeof provisioningPlan>('provisioningPlan', {
      taskQueue: temporal.taskQueue,
      workflowId,
      args: [{ tenantId: input.tenantId, planId: input.planId, round: input.round }],
      workflowIdReusePolicy: retry ? WorkflowIdReusePolicy.ALLOW_DUPLICATE : WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: retry ? WorkflowIdConflictPolicy.FAIL : WorkflowIdConflictPolicy.USE_EXISTING,
      typedSearchAttributes: [{ key: PortalTenantId, value: input.tenantId }, { key: PortalStatus, value: 'running' }],
      memo: { kind: 'provisioning-plan', origin: input.origin, round: input.round },
    });
    return true;
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    if (!retry) return false;
    // The open run is this round's (a repeated start) or the previous round's, still closing.
    const open = await temporal.client.workflow.getHandle(workflowId).describe();
    if (open.memo?.round === input.round) return false;
    throw err;
  }
}
