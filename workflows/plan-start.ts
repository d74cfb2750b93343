import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, startChild, WorkflowIdReusePolicy } from '@temporalio/workflow';
import { provisioningPlan } from './provisioning-plan';
import type { LoadedPlan } from './plan.types';
import { PortalStatus, PortalTenantId } from './search-attributes';

/**
 * From a workflow, starts round 1 of a plan (`plan:<id>`) as an abandoned child: it outlives the run that
 * recorded it. Another path (the API) may have started it already: that is the same plan, so "already
 * started" is success, and a finished plan is never run again.
 */
export async function executePlan(tenantId: string, plan: { planId: string; workflowId: string; graph?: LoadedPlan }, origin: string): Promise<void> {
  try {
    await startChild(provisioningPlan, {
      workflowId: plan.workflowId, args: [{ tenantId, planId: plan.planId, round: 1, ...(plan.graph ? { graph: plan.graph } : {}) }],
      parentClosePolicy: ParentClosePolicy.ABANDON, workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [{ key: PortalTenantId, value: tenantId }, { key: PortalStatus, value: 'running' }],
      memo: { kind: 'provisioning-plan', origin, round: 1 },
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
