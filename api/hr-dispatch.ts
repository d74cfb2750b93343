import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { type HrEvent, listReceivedHrEvents, setHrEventStatus } from '../db/repositories/hr';
import type { lifecycle } from '../workflows';
import { type LifecycleEvent, lifecycleWorkflowId } from '../workflows/lifecycle.types';
import { hrEventsSignal } from '../workflows/messages';
import { PortalPersonId, PortalTenantId } from '../workflows/search-attributes';
import type { ApiDeps } from './context';

/** How long an event may sit `received` before the sweeper hands it over again. */
const SWEEP_AFTER_MS = 5_000;
const SWEEP_EVERY_MS = 2_000;
/** Events marked `dispatched` per statement. */
const MARK_CHUNK = 1_000;
/** Events in one hand-over (one signal). */
const MAX_BATCH = 20;
/**
 * Hand-overs in flight at once, across people. Few on purpose: under a burst, people's queues then gather
 * several events each and go over in one call. Measured on the HR benchmark (2 cores): 4 in flight accepted
 * ~490 events/s with two events a signal, 32 ~420/s with one; a slow Temporal link is offset the same way.
 */
const MAX_IN_FLIGHT = 4;

export interface HrDispatcherOptions {
  /** Webhook deliveries within `burstWindowMs` that make a burst (default 50 within 500 ms: 100 a second). */
  burstDeliveries?: number;
  burstWindowMs?: number;
  /**
   * The longest a profile change or hire waits for a burst to end before it is handed over anyway (default
   * 30 s; 0: nothing waits, for deployments whose API does not share its cores with workers and Temporal).
   */
  maxDeferMs?: number;
}
/** How often waiting hand-overs look whether the burst has ended or their time is up. */
const QUIET_POLL_MS = 100;

/** The dispatcher's options from Portal's configuration (`PORTAL_HR_BURST_HOLD_SECONDS`). */
export function hrHandOverOptions(config: { hrBurstHoldSeconds: number }): HrDispatcherOptions {
  return { maxDeferMs: config.hrBurstHoldSeconds * 1000 };
}
/** Event types that never wait out a burst: each can call off or change a run that is due. */
const URGENT_TYPES: ReadonlySet<string> = new Set(['termination', 'rehire', 'cancellation']);

/**
 * Hands stored HR events to their people's lifecycle workflows (signal-with-start), off the request path:
 * the webhook answers once the event is stored, and Temporal never slows intake down. Each person has a
 * queue; what has gathered in it goes over in one signal, oldest first (one call for a burst of one person's
 * events instead of one each). An event whose hand-over fails stays `received` and the sweeper retries it.
 * A repeated hand-over is harmless: the workflow ignores an event it has seen.
 */
export class HrDispatcher {
  /** Events waiting for hand-over, by `tenant:person`. */
  private readonly queues = new Map<string, HrEvent[]>();
  /** The running hand-over loop of each person with a queue. */
  private readonly pumps = new Map<string, Promise<void>>();
  /** Handed-over events waiting for their `dispatched` mark, by tenant (written in one statement per flush). */
  private readonly handedOver = new Map<string, string[]>();
  private flushing: NodeJS.Immediate | null = null;
  private marksWritten: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly timer: NodeJS.Timeout;
  private sweeping = false;
  /** When the last `burstDeliveries` webhook deliveries arrived: a ring, so memory stays constant. */
  private readonly arrivals: number[];
  private nextArrival = 0;
  /** Hand-overs waiting for a burst to end, each with the time it stops waiting; one poller serves them all. */
  private readonly deferred: { key: string; until: number; resolve: () => void }[] = [];
  private poller: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly burstWindowMs: number;
  private readonly maxDeferMs: number;

  constructor(private readonly deps: ApiDeps, options: HrDispatcherOptions = {}) {
    this.arrivals = new Array<number>(Math.max(1, options.burstDeliveries ?? 50)).fill(0);
    this.burstWindowMs = options.burstWindowMs ?? 500;
    this.maxDeferMs = options.maxDeferMs ?? 30_000;
    this.timer = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.timer.unref();
  }

  /** Counts a webhook delivery (called as each arrives, before it is stored). */
  deliveryArrived(): void {
    this.arrivals[this.nextArrival] = Date.now();
    this.nextArrival = (this.nextArrival + 1) % this.arrivals.length;
  }

  /** Whether webhook deliveries arrive as a burst: the last `burstDeliveries` of them within the window. */
  private inBurst(): boolean {
    return Date.now() - (this.arrivals[this.nextArrival] as number) <= this.burstWindowMs;
  }

  /**
   * While the HR system sends a burst, hires and profile changes are stored and answered first and handed
   * over once the burst has ended, or once they have waited `maxDeferMs`. Handing over as they arrive makes
   * each delivery share this process and the workflow engine with a signal per person, and the lifecycles
   * with the work those signals start: on the HR benchmark (2 cores) acceptance halved, and events were
   * applied no sooner, since the lifecycles cannot apply a burst as fast as it arrives anyway (the backlog
   * waits in PostgreSQL instead of as signals in Temporal). A person's events that gathered meanwhile go
   * over in one signal. Terminations, rehires and cancellations never wait, and one joining a held queue
   * takes it over at once: one may call off a run that is due, and a leaver must not wait for updates.
   */
  private async untilIntakeQuiet(key: string, queue: readonly HrEvent[]): Promise<void> {
    if (this.maxDeferMs <= 0 || this.stopping || queue.some((e) => URGENT_TYPES.has(e.type)) || !this.inBurst()) return;
    // PostgreSQL's clock stamped receivedAt: one ahead of this process's must not stretch the wait.
    const until = Math.min((queue[0] as HrEvent).receivedAt.getTime(), Date.now()) + this.maxDeferMs;
    if (Date.now() >= until) return;
    await new Promise<void>((resolve) => {
      this.deferred.push({ key, until, resolve });
      this.poller ??= setInterval(() => this.releaseWaiting(), QUIET_POLL_MS);
    });
  }

  /** Lets go the hand-overs whose burst has ended, whose time is up, or whose queue an urgent event joined. */
  private releaseWaiting(): void {
    const all = this.stopping || !this.inBurst();
    const now = Date.now();
    const goes = (d: { key: string; until: number }) => all || now >= d.until || this.queues.get(d.key)?.some((e) => URGENT_TYPES.has(e.type));
    const released = this.deferred.filter(goes);
    this.deferred.splice(0, this.deferred.length, ...this.deferred.filter((d) => !goes(d)));
    for (const d of released) d.resolve();
    if (this.deferred.length === 0 && this.poller) {
      clearInterval(this.poller);
      this.poller = null;
    }
  }

  /** Queues events for hand-over (returns at once). */
  enqueue(tenantId: string, events: readonly HrEvent[]): void {
    for (const e of events) {
      if (e.status !== 'received') continue;
      const key = `${tenantId}:${e.personId}`;
      const queue = this.queues.get(key);
      if (!queue) this.queues.set(key, [e]);
      else if (!queue.some((x) => x.id === e.id)) queue.push(e);
      if (!this.pumps.has(key)) this.pumps.set(key, this.pump(key, tenantId, e.personId));
      // A termination, rehire or cancellation joining a held queue takes it over now, held updates first.
      else if (URGENT_TYPES.has(e.type) && this.deferred.some((d) => d.key === key)) this.releaseWaiting();
    }
  }

  /** Waits until everything queued so far has been handed over (or failed) and marked. */
  async drain(): Promise<void> {
    while (this.pumps.size > 0) await Promise.allSettled([...this.pumps.values()]);
    await this.flushMarks();
  }

  /** Stops sweeping; what waits for a burst to end is handed over now. */
  stop(): void {
    clearInterval(this.timer);
    this.stopping = true;
    this.releaseWaiting();
  }

  /** Stops sweeping and waits, at most `waitMs`, for what is queued to be handed over and marked. */
  async shutdown(waitMs: number): Promise<void> {
    this.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drain(), new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
    })]);
    clearTimeout(timer);
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

  /** Hands a person's queue over, batch by batch, until it is empty. */
  private async pump(key: string, tenantId: string, personId: string): Promise<void> {
    for (;;) {
      if (!this.queues.get(key)?.length) {
        // Both go in the same turn, so an event queued from now on starts a new loop.
        this.queues.delete(key);
        this.pumps.delete(key);
        return;
      }
      await this.untilIntakeQuiet(key, this.queues.get(key) as HrEvent[]);
      await this.slot();
      // Only this loop takes from the queue: what was there is still there, and more may have gathered.
      const batch = this.queues.get(key)!.splice(0, MAX_BATCH);
      batch.sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || a.eventId.localeCompare(b.eventId));
      try {
        await this.deps.temporal.client.workflow.signalWithStart<typeof lifecycle, [LifecycleEvent[]]>('lifecycle', {
          workflowId: lifecycleWorkflowId(tenantId, personId),
          taskQueue: this.deps.temporal.taskQueue,
          args: [{ tenantId, personId }],
          signal: hrEventsSignal,
          signalArgs: [batch.map((e) => ({ id: e.id, payload: e.payload }))],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          typedSearchAttributes: [{ key: PortalTenantId, value: tenantId }, { key: PortalPersonId, value: personId }],
          memo: { kind: 'lifecycle', employeeId: batch[0]!.employeeId },
        });
        this.markDispatched(tenantId, batch.map((e) => e.id));
      } catch (err) {
        this.deps.logger.warn({ err, tenantId, eventIds: batch.map((e) => e.eventId) }, 'HR events not handed over yet; the sweeper will retry');
      } finally {
        this.release();
      }
    }
  }

  /**
   * Marks handed-over events `dispatched`, in one statement with the others handed over meanwhile. A mark
   * lost to a crash only means the sweeper hands the event over again, which its lifecycle ignores.
   */
  private markDispatched(tenantId: string, eventIds: string[]): void {
    const ids = this.handedOver.get(tenantId);
    if (ids) ids.push(...eventIds);
    else this.handedOver.set(tenantId, eventIds);
    this.flushing ??= setImmediate(() => void this.flushMarks());
  }

  /** Writes the marks gathered so far; resolves when they, and every earlier flush, are written. */
  private flushMarks(): Promise<void> {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = null;
    const batches = [...this.handedOver];
    this.handedOver.clear();
    this.marksWritten = this.marksWritten.then(() => this.writeMarks(batches));
    return this.marksWritten;
  }

  private async writeMarks(batches: [string, string[]][]): Promise<void> {
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
      for (const [tenantId, events] of byTenant) this.enqueue(tenantId, events.filter((e) => !this.pumps.has(`${tenantId}:${e.personId}`)));
    } catch (err) {
      this.deps.logger.warn({ err }, 'HR sweep failed');
    } finally {
      this.sweeping = false;
    }
  }
}
