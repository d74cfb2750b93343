import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { type HrEvent, setHrEventStatus } from '../db/repositories/hr';
import { type LifecycleEvent, lifecycleWorkflowId } from '../workflows/lifecycle.types';
import { hrEventSignal } from '../workflows/messages';
import { PortalPersonId, PortalTenantId } from '../workflows/search-attributes';
import type { lifecycle } from '../workflows';
import type { ApiDeps } from './context';

/**
 * Hands stored events to their people's lifecycle workflows (signal-with-start), oldest first, and marks
 * each dispatched once Temporal has it. An event whose dispatch fails stays `received`: the HR system's
 * retry of the same event id, or a retried import, dispatches it again. Returns how many failed.
 */
export async function dispatchHrEvents(deps: ApiDeps, tenantId: string, events: readonly HrEvent[]): Promise<number> {
  const ordered = [...events].filter((e) => e.status === 'received')
    .sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || a.eventId.localeCompare(b.eventId));
  let failed = 0;
  for (const e of ordered) {
    try {
      await deps.temporal.client.workflow.signalWithStart<typeof lifecycle, [LifecycleEvent]>('lifecycle', {
        workflowId: lifecycleWorkflowId(tenantId, e.personId),
        taskQueue: deps.temporal.taskQueue,
        args: [{ tenantId, personId: e.personId }],
        signal: hrEventSignal,
        signalArgs: [{ id: e.id, payload: e.payload }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        typedSearchAttributes: [{ key: PortalTenantId, value: tenantId }, { key: PortalPersonId, value: e.personId }],
        memo: { kind: 'lifecycle', employeeId: e.employeeId },
      });
      await setHrEventStatus(deps.db, tenantId, [e.id], 'dispatched');
    } catch (err) {
      failed += 1;
      deps.logger.error({ err, tenantId, eventId: e.eventId }, 'could not dispatch HR event; it stays received');
    }
  }
  return failed;
}
