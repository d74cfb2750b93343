import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { type HrEvent, listReceivedHrEvents, setHrEventStatus } from '../db/repositories/hr';
import type { lifecycle } from '../workflows';
import { type LifecycleEvent, lifecycleWorkflowId } from '../workflows/lifecycle.types';
import { hrEventSignal } from '../workflows/messages';
import { PortalPersonId, PortalTenantId } from '../workflows/search-attributes';
import type { ApiDeps } from './context';

/** How long an event may sit `received` before the sweeper hands it over again. */
const SWEEP_AFTER_MS = 5_000;
const SWEEP_EVERY_MS = 2_000;
/** Events marked `dispatched` per statement. */
const MARK_CHUNK = 1_000;
/** Hand-overs in flight at once, across people. */
const MAX_IN_FLIGHT = 32;

/**
 * Hands stored HR events to their people's lifecycle workflows (signal-with-start), off the request path:
 * the webhook answers once the event is stored, and Temporal never slows intake down. Events of one person
 * are handed over one at a time, oldest first; an event whose hand-over fails stays `received` and the
 * sweeper retries it. A repeated hand-over is harmless: the workflow ignores an event it has seen.
 */
export class HrDispatcher {
  private readonly chains = new Map<string, Promise<void>>();
  /** Handed-over events waiting for their `dispatched` mark, by tenant (written in one statement per flush). */
  private readonly handedOver = new Map<string, string[]>();
  private flushing: NodeJS.Immediate | null = null;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly timer: NodeJS.Timeout;
  private sweeping = false;

  constructor(private readonly deps: ApiDeps) {
    this.timer = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.timer.unref();
  }

  /** Queues events for hand-over (returns at once). */
  enqueue(tenantId: string, events: readonly HrEvent[]): void {
    const ordered = events.filter((e) => e.status === 'received')
      .sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || a.eventId.localeCompare(b.eventId));
    for (const e of ordered) {
      const key = `${tenantId}:${e.personId}`;
      const next = (this.chains.get(key) ?? Promise.resolve()).then(() => this.handOver(tenantId, e));
      this.chains.set(key, next);
      void next.finally(() => {
        if (this.chains.get(key) === next) this.chains.delete(key);
      });
    }
  }

  /** Waits until everything queued so far has been handed over (or failed) and marked. */
  async drain(): Promise<void> {
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()]);
    await this.flushMarks();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Waits for a hand-over slot: a burst of thousands of people must not open thousands of calls at once. */
  private async slot(): Promise<void> {
    if (this.inFlight < MAX_IN_FLIGHT) {
      this.inFlight += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight -= 1;
  }

  private async handOver(tenantId: string, e: HrEvent): Promise<void> {
    await this.slot();
    try {
      await this.deps.temporal.client.workflow.signalWithStart<typeof lifecycle, [LifecycleEvent]>('lifecycle', {
        workflowId: lifecycleWorkflowId(tenantId, e.personId),
        taskQueue: this.deps.temporal.taskQueue,
        args: [{ tenantId, personId: e.personId }],
        signal: hrEventSignal,
        signalArgs: [{ id: e.id, payload: e.payload }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        typedSearchAttributes: [{ key: PortalTenantId, value: tenantId }, { key: PortalPersonId, value: e.personId }],
        memo: { kind: 'lifecycle', employeeId: e.employeeId },
      });
      this.markDispatched(tenantId, e.id);
    } catch (err) {
      this.deps.logger.warn({ err, tenantId, eventId: e.eventId }, 'HR event not handed over yet; the sweeper will retry');
    } finally {
      this.release();
    }
  }

  /**
   * Marks a handed-over event `dispatched`, batched with the others handed over meanwhile. A mark lost to a
   * crash only means the sweeper hands the event over again, which its lifecycle ignores.
   */
  private markDispatched(tenantId: string, id: string): void {
    const ids = this.handedOver.get(tenantId);
    if (ids) ids.push(id);
    else this.handedOver.set(tenantId, [id]);
    this.flushing ??= setImmediate(() => void this.flushMarks());
  }

  private async flushMarks(): Promise<void> {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = null;
    const batches = [...this.handedOver];
    this.handedOver.clear();
    for (const [tenantId, ids] of batches) {
      // In chunks, well under PostgreSQL's limit of bound parameters per statement.
      for (let i = 0; i < ids.length; i += MARK_CHUNK) {
        const chunk = ids.slice(i, i + MARK_CHUNK);
        await setHrEventStatus(this.deps.db, tenantId, chunk, 'dispatched', null, 'received')
          .catch((err: unknown) => this.deps.logger.warn({ err, tenantId, events: chunk.length }, 'dispatched marks not written; the sweeper will hand these events over again'));
      }
    }
  }

  /** Re-queues events left `received` (a failed hand-over, or a process that stopped before it). */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const stale = await listReceivedHrEvents(this.deps.db, new Date(Date.now() - SWEEP_AFTER_MS), 500);
      const byTenant = new Map<string, HrEvent[]>();
      for (const e of stale) byTenant.set(e.tenantId, [...(byTenant.get(e.tenantId) ?? []), e]);
      for (const [tenantId, events] of byTenant) this.enqueue(tenantId, events.filter((e) => !this.chains.has(`${tenantId}:${e.personId}`)));
    } catch (err) {
      this.deps.logger.warn({ err }, 'HR sweep failed');
    } finally {
      this.sweeping = false;
    }
  }
}
