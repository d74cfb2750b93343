import { WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { planWorkflowId } from '../db/repositories/plans';
import type { provisioningPlan } from '../workflows';
import { PortalStatus, PortalTenantId } from '../workflows/search-attributes';

/**
 * Starts a round of a plan's execution under `plan:<id>`. The first round is idempotent: a run that is going
 * on is reused and a finished one is not repeated (false is returned). A retry round (round > 1) starts a
 * new run under the same ID only when none is running; it throws WorkflowExecutionAlreadyStartedError then.
 */
export async function startPlanRound(
  temporal: { client: Client; taskQueue: string }, input: { tenantId: string; planId: string; round: number; origin: string },
): Promise<boolean> {
  const retry = input.round > 1;
  try {
    await temporal.client.workflow.start<typeof provisioningPlan>('provisioningPlan', {
      taskQueue: temporal.taskQueue,
      workflowId: planWorkflowId(input.planId),
      args: [{ tenantId: input.tenantId, planId: input.planId, round: input.round }],
      workflowIdReusePolicy: retry ? WorkflowIdReusePolicy.ALLOW_DUPLICATE : WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: retry ? WorkflowIdConflictPolicy.FAIL : WorkflowIdConflictPolicy.USE_EXISTING,
      typedSearchAttributes: [{ key: PortalTenantId, value: input.tenantId }, { key: PortalStatus, value: 'running' }],
      memo: { kind: 'provisioning-plan', origin: input.origin, round: input.round },
    });
    return true;
  } catch (err) {
    if (!retry && err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}
