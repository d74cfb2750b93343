import {
  allHandlersFinished, condition, continueAsNew, patched, proxyLocalActivities, setHandler, uuid4, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { LocalActivityProfiles } from './activity-options';
import {
  type DatedUpdate, type LifecycleEvent, type LifecycleInput, type LifecycleKickoff, type LifecycleKind, type LifecycleState, type LifecycleStep, type ScheduledRun,
  lifecycleEventTypes, lifecycleStateOf, movedAttributes, profileUpdatedOutcome,
} from './lifecycle.types';
import { hrEventSignal, hrEventsSignal, kickoffSignal, lifecycleStateQuery } from './messages';
import { executePlan } from './plan-start';

/** Patch: lifecycle steps that change downstream systems start their provisioning plan. */
const LIFECYCLE_PLANS = 'lifecycle-plans';
/**
 * Patch, asked as a run starts: late events are applied in order (superseded only by a newer hire,
 * termination, rehire or cancellation), events that came before the hire are re-applied once it arrives, a
 * joiner ends a pending leaver (and a leaver a scheduled joiner), a cancellation matches every event of a
 * corrected run, a kickoff's run id runs once, a run without carried state takes the person's status from
 * the database on their first update or termination, and LIFECYCLE_PLANS is answered with it (it was first
 * asked after a local activity, which does not replay when that activity's result landed in an earlier
 * workflow task than the code after it).
 */
const LIFECYCLE_LATE_EVENTS = 'lifecycle-late-events';
/**
 * Patch, asked as a run starts: an update dated in the future (a transfer effective next month) waits for
 * its effective date instead of applying at once (which would run the mover early: the person would lose
 * their current access weeks before the move). One that changes a mover attribute is recorded as a scheduled
 * mover run, so it shows among the person's upcoming steps; a cancellation naming the update cancels it.
 */
const LIFECYCLE_DATED_UPDATES = 'lifecycle-dated-updates';
/**
 * Patch, asked as a run starts: a scheduled joiner or leaver, or a leaver's deletion after retention, whose
 * date came while a cancellation naming it was already waiting to be applied (sent before the date and
 * delivered with it, say while the worker was down) is left to that cancellation instead of running first.
 */
const LIFECYCLE_CANCELLATIONS_BEFORE_RUNS = 'lifecycle-cancellations-before-runs';
/** How many recent kickoff run ids are remembered, so a repeated kickoff (a client's retry) runs once. */
const RECENT_KICKOFFS = 50;

// Every step is a short, idempotent PostgreSQL transaction: local activities run them inside the workflow
// task instead of a round trip through the task queue each, which multiplies intake throughput.
const acts = proxyLocalActivities<Activities>(LocalActivityProfiles.databaseWrite);

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** How many recent event ids are remembered to ignore repeated deliveries. */
const RECENT_EVENT_IDS = 200;
/** Default number of events one run processes before continuing as new. */
const CONTINUE_AFTER_EVENTS = 500;
/** How many events that came before the person's hire are kept to re-apply once it arrives. */
const AWAITING_HIRE_EVENTS = 20;
/**
 * How many future-dated updates a person may have waiting (each is carried whole in the run's state, as the
 * events waiting for a hire are); more are refused (failed) with that reason.
 */
const DATED_UPDATES = 20;
/** How many cancellations that named no pending event are remembered, for a dated update arriving after its cancellation. */
const UNMATCHED_CANCELLATIONS = 50;
/** Profile updates applied in one local activity at most (a burst of one person's updates). */
const UPDATE_BATCH = 20;
/** The outcome of an event for a person no hire has created yet. */
const NO_HIRE_YET = 'failed: no hire has been seen for this employee';

/** The events a cancellation may name to cancel a scheduled run: the first one and every correction. */
const chainOf = (s: ScheduledRun): string[] => s.eventIds ?? (s.eventId === null ? [] : [s.eventId]);

/**
 * One long-lived lifecycle per person and tenant (`lifecycle:<tenant>:<person>`), fed by signal-with-start.
 * HR events are applied one at a time in the order the HR system produced them; an event older than one
 * already applied is recorded as superseded and never overwrites newer data. Hires and terminations dated
 * in the future wait durably for their date; a correction (new date, rehire, cancellation) reschedules or
 * cancels the waiting run, with evidence. Runs execute the tenant's versioned joiner / mover / leaver
 * template; a leaver's retention wait is a durable timer that a rehire interrupts.
 */
export async function lifecycle(input: LifecycleInput): Promise<void> {
  /**
   * Patches are checked when a run starts, never first after a local activity: a local activity's result can be
 * recorded in one workflow task and the code after it run in the next (a worker that dies mid-activity, or an
 * activity outlasting the task's heartbeat), and a patch first checked there replays as unpatched.
   */
  const lateEvents = patched(LIFECYCLE_LATE_EVENTS);
  const datedUpdates = patched(LIFECYCLE_DATED_UPDATES);
  const cancellationsBeforeRuns = patched(LIFECYCLE_CANCELLATIONS_BEFORE_RUNS);
  const plansPatched = () => lateEvents || patched(LIFECYCLE_PLANS);
  const state: LifecycleState = input.state ?? {
    tenantId: input.tenantId, personId: input.personId, personState: 'unknown', lastOccurredAt: null, scheduled: null, resume: null, eventsProcessed: 0, recentEventIds: [],
  };
  // State carried from before the patch knows only the newest event of any kind: it stands in for the newest
  // hire, termination, rehire or cancellation, conservatively, from the start (the update batches move
  // lastOccurredAt on).
  if (lateEvents && state.lastLifecycleAt === undefined) state.lastLifecycleAt = state.lastOccurredAt;
  const inbox: LifecycleEvent[] = [];
  const kickoffs: LifecycleKickoff[] = [];
  const ref = { tenantId: input.tenantId, personId: input.personId };
  let processedThisRun = 0;
  /** Ids of events put back into the inbox once their hire arrived: applied again, not counted again. */
  const retried = new Set<string>();
  /** Ids of events taken from the inbox and not yet counted: a copy delivered meanwhile is the same event. */
  const inFlight = new Set<string>();

  setHandler(lifecycleStateQuery, () => state);
  // Apply in the HR system's order, whatever order the events arrived in.
  // Plain code-point comparison: locale-aware collation could differ between workers and break replay.
  const sortInbox = () => inbox.sort((a, b) => compare(a.payload.occurredAt, b.payload.occurredAt) || compare(a.payload.eventId, b.payload.eventId));
  const receive = (events: readonly LifecycleEvent[]) => {
    for (const e of events) {
      // A re-dispatched event (a retried intake) is applied once.
      if (lateEvents && inFlight.has(e.id)) continue;
      if (!state.recentEventIds.includes(e.id) && !inbox.some((x) => x.id === e.id)) inbox.push(e);
    }
    sortInbox();
  };
  setHandler(hrEventsSignal, receive);
  setHandler(hrEventSignal, (e) => receive([e]));
  setHandler(kickoffSignal, (k) => {
    if (lateEvents) {
      // The API derives a kickoff's run id from its Idempotency-Key: a retried kickoff names the same run.
      const seen = state.recentKickoffs ?? [];
      if (seen.includes(k.runId) || kickoffs.some((x) => x.runId === k.runId)) return;
      state.recentKickoffs = [...seen, k.runId].slice(-RECENT_KICKOFFS);
    }
    kickoffs.push(k);
  });

  const now = () => new Date(Date.now());
  const isDue = (at: string | undefined) => at !== undefined && Date.parse(at) <= Date.now();

  async function executeSteps(runId: string, kind: LifecycleKind, steps: LifecycleStep[], eventIds: string[] = []): Promise<void> {
    for (let i = 0; i < steps.length; i += 1) {
      const step = steps[i] as LifecycleStep;
      if (step.type === 'wait') {
        // The rest of the run resumes when the wait is over, unless a rehire or the termination's
        // cancellation ends it first.
        state.resume = {
          runId, kind, dueAt: new Date(Date.now() + step.seconds * 1000).toISOString(), steps: steps.slice(i + 1),
          ...(lateEvents && eventIds.length > 0 ? { eventIds } : {}),
        };
        await acts.recordRunStep({ ...ref, runId, step: 'wait', outcome: 'applied', details: { until: state.resume.dueAt } });
        return;
      }
      const plan = await acts.runLifecycleStep({ ...ref, runId, kind, step });
      // Downstream changes run in their own plan workflow, which outlives this step.
      if (plan?.needsExecution && plansPatched()) await executePlan(ref.tenantId, plan, 'lifecycle_run');
      if (step.type === 'activate') state.personState = 'active';
      if (step.type === 'disable') state.personState = 'disabled';
      if (step.type === 'delete') state.personState = 'deleted';
    }
    await acts.finishRun({ ...ref, runId, status: 'completed', reason: null });
  }

  /** Starts a run now: the one waiting for its date, or a new one. */
  async function run(
    kind: LifecycleKind, trigger: 'hr_event' | 'manual' | 'effective_date', eventId: string | null, reason: string | null, runId?: string, chain?: string[],
  ) {
    const id = runId ?? uuid4();
    if (lateEvents) await cancelOpposite(kind, trigger, id);
    if (kind === 'leaver' && state.datedUpdates?.length) await dropDatedUpdates(id);
    const template = await acts.startRun({ ...ref, runId: id, kind, trigger, eventId, reason, scheduledFor: null });
    await executeSteps(id, kind, template.steps, chain ?? (eventId === null ? [] : [eventId]));
    // The person has started: a fixed-term hire's leaver now waits for its own date (once the joiner it
    // follows has run; a joiner kicked off early leaves that one, and the leaver behind it, scheduled).
    if (kind === 'joiner' && state.leaverAfterJoiner && state.scheduled?.kind !== 'joiner') {
      state.scheduled = state.leaverAfterJoiner;
      state.leaverAfterJoiner = null;
    }
  }

  async function cancel(runId: string, reason: string) {
    await acts.finishRun({ ...ref, runId, status: 'cancelled', reason });
  }

  /** Ends a leaver still pending: scheduled for its date, or paused in its retention wait before the deletion. */
  async function cancelPendingLeaver(reason: string, spareScheduled = false): Promise<void> {
    if (state.scheduled?.kind === 'leaver' && !spareScheduled) {
      await cancel(state.scheduled.runId, reason);
      state.scheduled = null;
    }
    if (state.resume?.kind === 'leaver') {
      await cancel(state.resume.runId, reason);
      state.resume = null;
    }
  }

  /**
   * A joiner, however started, ends a pending leaver: left waiting, it would later disable or delete the
   * person the joiner just activated. A leaver ends a scheduled joiner for the same reason.
   */
  async function cancelOpposite(kind: LifecycleKind, trigger: string, runId: string): Promise<void> {
    // A joiner kicked off by hand (onboarding run again) leaves a dated departure alone: HR ends that.
    if (kind === 'joiner') await cancelPendingLeaver(`cancelled by joiner run ${runId} (${trigger})`, trigger === 'manual');
    if (kind === 'leaver' && state.scheduled?.kind === 'joiner') {
      await cancel(state.scheduled.runId, `cancelled by leaver run ${runId} (${trigger}) before the start date`);
      state.scheduled = null;
      await cancelLeaverAfterJoiner(`superseded by leaver run ${runId} (${trigger}) before the start date`);
    }
  }

  /** Schedules a joiner or leaver for its effective date; one already waiting is replaced (a correction). */
  async function schedule(kind: 'joiner' | 'leaver', dueAt: string, eventId: string): Promise<string> {
    // A new date for the same kind of run continues its chain, so a cancellation of the first event still applies.
    const chain = state.scheduled?.kind === kind && lateEvents ? chainOf(state.scheduled) : null;
    if (state.scheduled) {
      await cancel(state.scheduled.runId, `rescheduled by HR event ${eventId}`);
      state.scheduled = null;
    }
    const runId = uuid4();
    await acts.scheduleRun({ ...ref, runId, kind, eventId, scheduledFor: dueAt });
    state.scheduled = chain === null ? { runId, kind, dueAt, eventId } : { runId, kind, dueAt, eventId, eventIds: [...chain, eventId] };
    return `${kind} scheduled for ${dueAt}`;
  }

  /**
   * A termination dated after the scheduled joiner's start (a fixed-term hire, both sent ahead): the person
   * starts, then leaves. The leaver is recorded as scheduled now (the person's upcoming steps show it) and
   * takes the scheduled slot once the joiner has run; a later such termination replaces it (a correction).
   */
  async function scheduleLeaverAfterJoiner(at: Date, eventId: string, joinerDueAt: string): Promise<string> {
    const previous = state.leaverAfterJoiner ?? null;
    if (previous) await cancel(previous.runId, `rescheduled by HR event ${eventId}`);
    const runId = uuid4();
    const dueAt = at.toISOString();
    await acts.scheduleRun({ ...ref, runId, kind: 'leaver', eventId, scheduledFor: dueAt });
    state.leaverAfterJoiner = { runId, kind: 'leaver', dueAt, eventId, eventIds: [...(previous ? chainOf(previous) : []), eventId] };
    return `leaver scheduled for ${dueAt}, after the joiner on ${joinerDueAt}`;
  }

  /** Ends the fixed-term leaver waiting for its joiner (the hire it followed was cancelled or ended early). */
  async function cancelLeaverAfterJoiner(reason: string): Promise<void> {
    if (!state.leaverAfterJoiner) return;
    await cancel(state.leaverAfterJoiner.runId, reason);
    state.leaverAfterJoiner = null;
  }

  async function joinOrSchedule(at: Date, eventId: string): Promise<string> {
    // Hired again while the leaver waits to delete: the person stays, whether they start now or later.
    if (lateEvents) await cancelPendingLeaver(`hired again by HR event ${eventId} while the leaver was pending`);
    // A start moved to or past the fixed-term end: the end no longer follows it.
    if (lateEvents && state.leaverAfterJoiner && at.getTime() >= Date.parse(state.leaverAfterJoiner.dueAt)) {
      await cancelLeaverAfterJoiner(`the start date moved to ${at.toISOString()}, not before this end date, by HR event ${eventId}`);
    }
    if (at.getTime() > Date.now()) return schedule('joiner', at.toISOString(), eventId);
    if (state.scheduled?.kind === 'joiner') {
      const waiting = state.scheduled;
      state.scheduled = null;
      await run('joiner', 'hr_event', eventId, null, waiting.runId);
    } else {
      await run('joiner', 'hr_event', eventId, null);
    }
    return 'joiner ran';
  }

  /** What an applied update makes: a mover when an active person's mover attribute changed. */
  async function afterUpdate(eventId: string, changed: string[]): Promise<string> {
    const moved = movedAttributes(changed);
    if (state.personState !== 'active' || moved.length === 0) return profileUpdatedOutcome(changed);
    await run('mover', 'hr_event', eventId, `changed: ${moved.join(', ')}`);
    return `mover ran (${moved.join(', ')})`;
  }

  async function applyEvent(e: LifecycleEvent): Promise<string> {
    const p = e.payload;
    const at = p.effectiveAt ? new Date(p.effectiveAt) : now();
    const applied = await acts.applyHrEvent({ ...ref, eventRowId: e.id, payload: p, ...(lateEvents ? { recoverEarlierChanges: true } : {}) });
    if (!applied.personExists) return NO_HIRE_YET;
    // A run that started without carried state (its predecessor was lost) learns where the person stands
    // from the database, so their termination still runs the leaver and a department change the mover. A
    // hire keeps running the joiner for a person Portal already knew (created through the API or SCIM).
    if (lateEvents && state.personState === 'unknown' && (p.type === 'update' || p.type === 'termination')) {
      state.personState = lifecycleStateOf(applied.personStatus);
    }
    switch (p.type) {
      case 'hire':
        if (state.personState === 'active') return 'already active';
        return joinOrSchedule(at, p.eventId);
      case 'update':
        return afterUpdate(p.eventId, applied.changed);
      case 'termination':
        if (state.scheduled?.kind === 'joiner') {
          if (lateEvents && at.getTime() > Date.parse(state.scheduled.dueAt)) return scheduleLeaverAfterJoiner(at, p.eventId, state.scheduled.dueAt);
          if (lateEvents) await cancelLeaverAfterJoiner(`terminated before the start date by HR event ${p.eventId}`);
          await cancel(state.scheduled.runId, `terminated before the start date by HR event ${p.eventId}`);
          state.scheduled = null;
          return 'pending joiner cancelled';
        }
        if (state.personState !== 'active') return 'not active: nothing to do';
        if (at.getTime() > Date.now()) return schedule('leaver', at.toISOString(), p.eventId);
        if (state.scheduled?.kind === 'leaver') {
          await cancel(state.scheduled.runId, `superseded by immediate termination ${p.eventId}`);
          state.scheduled = null;
        }
        await run('leaver', 'hr_event', p.eventId, null);
        return 'leaver ran';
      case 'rehire':
        if (state.scheduled?.kind === 'leaver') {
          await cancel(state.scheduled.runId, `rehired before the leave date by HR event ${p.eventId}`);
          state.scheduled = null;
          return 'pending leaver cancelled';
        }
        if (state.resume) {
          await cancel(state.resume.runId, `rehired by HR event ${p.eventId} during the leaver's retention wait`);
          state.resume = null;
        }
        if (state.personState === 'active') return 'already active';
        return joinOrSchedule(at, p.eventId);
      case 'cancellation': {
        const dated = datedUpdates ? (state.datedUpdates ?? []).find((d) => d.event.payload.eventId === p.cancelsEventId) : undefined;
        if (dated) {
          state.datedUpdates = (state.datedUpdates ?? []).filter((d) => d !== dated);
          if (dated.runId !== null) await cancel(dated.runId, `its update was cancelled by HR event ${p.eventId}`);
          await acts.markHrEvent({ ...ref, eventRowId: dated.event.id, status: 'superseded', outcome: `cancelled by HR event ${p.eventId} before its effective date` });
          return `pending update ${p.cancelsEventId} cancelled`;
        }
        const ended = datedUpdates ? (state.droppedByLeaver?.updates ?? []).find((d) => d.event.payload.eventId === p.cancelsEventId) : undefined;
        if (ended) {
          // Ended by the leaver already; cancelled, it stays ended should the termination be cancelled.
          state.droppedByLeaver = { ...state.droppedByLeaver!, updates: state.droppedByLeaver!.updates.filter((d) => d !== ended) };
          return `update ${p.cancelsEventId} cancelled (the leaver had ended it)`;
        }
        if (lateEvents && state.resume?.kind === 'leaver' && p.cancelsEventId !== null && (state.resume.eventIds ?? []).includes(p.cancelsEventId)) {
          // The termination did not happen: the deletion is off, and the person is restored as a rehire is.
          await cancel(state.resume.runId, `its termination was cancelled by HR event ${p.eventId}`);
          const leaverRunId = state.resume.runId;
          state.resume = null;
          await run('joiner', 'hr_event', p.eventId, `termination ${p.cancelsEventId} cancelled`);
          if (datedUpdates) await restoreDatedUpdates(leaverRunId, p.eventId);
          return 'pending deletion cancelled, joiner ran';
        }
        if (lateEvents && state.leaverAfterJoiner && p.cancelsEventId !== null && chainOf(state.leaverAfterJoiner).includes(p.cancelsEventId)) {
          await cancelLeaverAfterJoiner(`cancelled by HR event ${p.eventId}`);
          return 'pending leaver cancelled';
        }
        if (state.scheduled && (lateEvents ? p.cancelsEventId !== null && chainOf(state.scheduled).includes(p.cancelsEventId) : state.scheduled.eventId === p.cancelsEventId)) {
          await cancel(state.scheduled.runId, `cancelled by HR event ${p.eventId}`);
          const kind = state.scheduled.kind;
          state.scheduled = null;
          // The hire is off: so is the leaver that was to follow it.
          if (lateEvents && kind === 'joiner') await cancelLeaverAfterJoiner(`the hire it followed was cancelled by HR event ${p.eventId}`);
          return `pending ${kind} cancelled`;
        }
        if (datedUpdates && p.cancelsEventId !== null) {
          state.unmatchedCancellations = [...(state.unmatchedCancellations ?? []), { eventId: p.cancelsEventId, by: p.eventId }].slice(-UNMATCHED_CANCELLATIONS);
        }
        return `nothing pending for event ${p.cancelsEventId}`;
      }
    }
  }

  /** Before patch `lifecycle-late-events`: every late event but an update is superseded. */
  async function applyOrSupersede(e: LifecycleEvent): Promise<void> {
    if (state.lastOccurredAt !== null && e.payload.occurredAt < state.lastOccurredAt && e.payload.type === 'update') {
      // An update that arrives after a newer event still counts for the attributes no newer event set:
      // profile values are ordered per attribute by observation time, so nothing newer is overwritten.
      const applied = await acts.applyHrEvent({ ...ref, eventRowId: e.id, payload: e.payload });
      await acts.markHrEvent({
        ...ref, eventRowId: e.id, status: 'applied',
        outcome: `late: older than ${state.lastOccurredAt}; applied where no newer value exists (${applied.changed.join(', ') || 'no change'})`,
      });
    } else if (state.lastOccurredAt !== null && e.payload.occurredAt < state.lastOccurredAt) {
      await acts.markHrEvent({ ...ref, eventRowId: e.id, status: 'superseded', outcome: `older than the last applied event (${state.lastOccurredAt})` });
    } else {
      state.lastOccurredAt = e.payload.occurredAt;
      const outcome = await applyEvent(e);
      await acts.markHrEvent({ ...ref, eventRowId: e.id, status: outcome.startsWith('failed') ? 'failed' : 'applied', outcome });
    }
  }

  /**
   * Applies an event in the HR system's order (patch `lifecycle-late-events`). A late hire, termination,
   * rehire or cancellation is superseded only by a newer one of those already applied; any other late event
   * is applied like a timely one (profile values are ordered per attribute by observation time, so an older
   * observation never overwrites a newer value), so a late termination runs the leaver and a late update can
   * make a mover. An event for which no hire has been seen waits for it and does not advance `lastOccurredAt`.
   */
  async function applyInOrder(e: LifecycleEvent, retry: boolean): Promise<void> {
    const p = e.payload;
    const lastLifecycleAt = state.lastLifecycleAt ?? null;
    // A cancellation of a dated update, or of nothing pending, neither is superseded by a newer hire or
    // termination nor supersedes one (it would drop a termination held for an operator and released later).
    const lifecycleKind = lifecycleEventTypes.includes(p.type) && !(datedUpdates && p.type === 'cancellation' && !cancelsRun(p.cancelsEventId));
    if (lifecycleKind && lastLifecycleAt !== null && p.occurredAt < lastLifecycleAt) {
      await acts.markHrEvent({ ...ref, eventRowId: e.id, status: 'superseded', outcome: `older than the last applied hire, termination, rehire or cancellation (${lastLifecycleAt})` });
      return;
    }
    const newer = state.lastOccurredAt !== null && p.occurredAt < state.lastOccurredAt ? state.lastOccurredAt : null;
    const outcome = await applyEvent(e);
    if (outcome === NO_HIRE_YET) {
      await awaitHire(e);
      return;
    }
    if (newer === null) state.lastOccurredAt = p.occurredAt;
    if (lifecycleKind) state.lastLifecycleAt = p.occurredAt;
    const label = retry ? 'applied once the hire arrived: ' : newer !== null ? `late (older than ${newer}): ` : '';
    await acts.markHrEvent({ ...ref, eventRowId: e.id, status: 'applied', outcome: `${label}${outcome}` });
    releaseAwaitingHire();
  }


  /** The person exists now: whatever waited for the hire is applied next, in order with the rest. */
  function releaseAwaitingHire(): void {
    for (const waiting of state.awaitingHire ?? []) {
      retried.add(waiting.id);
      inbox.push(waiting);
    }
    if (state.awaitingHire?.length) sortInbox();
    state.awaitingHire = [];
  }

  /** Whether the inbox's next event can go in a batch of profile updates: an update for a person who exists. */
  const batchable = (e: LifecycleEvent | undefined) => e !== undefined && e.payload.type === 'update' && !retried.has(e.id) && state.personState !== 'unknown'
    && !isFutureUpdate(e) && !cancelledFirst(e);

  /**
   * Applies the profile updates at the head of the inbox in one local activity (a burst of a person's
   * updates is one transaction and one workflow task, not two of each per update), in the HR system's
   * order and with the same outcomes as one by one. The first that makes a mover stops the batch: the run
   * starts the mover for it, and what followed it goes back to the inbox.
   */
  async function applyUpdates(): Promise<void> {
    const batch: LifecycleEvent[] = [];
    while (batch.length < UPDATE_BATCH && batchable(inbox[0])) batch.push(inbox.shift() as LifecycleEvent);
    for (const e of batch) inFlight.add(e.id);
    // Late ones are labelled as applyInOrder labels them; the inbox is in order, so only the first can be.
    let newest = state.lastOccurredAt;
    const items = batch.map((e) => {
      const late = newest !== null && e.payload.occurredAt < newest ? newest : null;
      if (late === null) newest = e.payload.occurredAt;
      return { eventRowId: e.id, payload: e.payload, late, label: late === null ? '' : `late (older than ${late}): ` };
    });
    const { marked, mover } = await acts.applyHrUpdates({ ...ref, personActive: state.personState === 'active', events: items.map(({ late: _late, ...i }) => i) });
    const counted = (i: number) => {
      if (items[i]!.late === null) state.lastOccurredAt = items[i]!.payload.occurredAt;
      countProcessed(batch[i]!);
    };
    for (let i = 0; i < marked; i += 1) counted(i);
    if (mover !== null) {
      const e = batch[marked]!;
      const outcome = await afterUpdate(e.payload.eventId, mover);
      await acts.markHrEvent({ ...ref, eventRowId: e.id, status: 'applied', outcome: `${items[marked]!.label}${outcome}` });
      counted(marked);
      inbox.unshift(...batch.slice(marked + 1));
      sortInbox();
    }
    for (const e of batch) inFlight.delete(e.id);
    releaseAwaitingHire();
  }

  /**
   * The remembered cancellation that named this event before it arrived (patch `lifecycle-dated-updates`): a
   * re-sent delivery, a termination held for an operator, or the same moment in the HR system.
   */
  function cancelledFirst(e: LifecycleEvent | undefined): { eventId: string; by: string } | undefined {
    if (!datedUpdates || e === undefined || e.payload.type === 'cancellation') return undefined;
    return (state.unmatchedCancellations ?? []).find((c) => c.eventId === e.payload.eventId);
  }

  /** Whether an event is an update that takes effect later (patch `lifecycle-dated-updates`): it waits for its date. */
  function isFutureUpdate(e: LifecycleEvent | undefined): boolean {
    return datedUpdates && e !== undefined && e.payload.type === 'update' && e.payload.effectiveAt !== null && Date.parse(e.payload.effectiveAt) > Date.now();
  }

  /**
   * Keeps an update dated in the future for its effective date. One that changes a mover attribute records
   * the mover as scheduled for that date (the person's upcoming steps show it).
   */
  async function scheduleUpdate(e: LifecycleEvent, note: string | null = null): Promise<void> {
    const p = e.payload;
    const waiting = state.datedUpdates ?? [];
    if (waiting.length >= DATED_UPDATES) {
      await acts.markHrEvent({ ...ref, eventRowId: e.id, status: 'failed', outcome: `failed: more than ${DATED_UPDATES} updates are waiting for their effective dates` });
      return;
    }
    const dueAt = new Date(p.effectiveAt as string).toISOString();
    const touched = movedAttributes(Object.keys(p.profile));
    const runId = touched.length > 0 ? uuid4() : null;
    if (runId !== null) await acts.scheduleRun({ ...ref, runId, kind: 'mover', eventId: p.eventId, scheduledFor: dueAt });
    state.datedUpdates = [...waiting, { event: e, dueAt, runId }].sort((a, b) => compare(a.dueAt, b.dueAt)
      || compare(a.event.payload.occurredAt, b.event.payload.occurredAt) || compare(a.event.payload.eventId, b.event.payload.eventId));
    await acts.markHrEvent({
      ...ref, eventRowId: e.id, status: 'dispatched',
      outcome: `waits for its effective date ${dueAt}${runId === null ? '' : ` (mover scheduled: ${touched.join(', ')})`}${note === null ? '' : `; ${note}`}`,
    });
  }

  /**
   * Applies the updates whose effective date has come, each observed as of its date (so it outranks values HR
   * sent meanwhile for earlier dates), then one mover for every mover attribute they changed of an active
   * person: that runs as the first such update's scheduled mover; the others' are cancelled with the reason.
   * An update for a person no hire has created yet waits for the hire, as a timely one does.
   */
  async function applyDueUpdates(takes: (dueAt: string) => boolean = () => true): Promise<void> {
    // One whose cancellation is already in the inbox is left to it (sent before the date, handed over after).
    const due = (state.datedUpdates ?? []).filter((d) => isDue(d.dueAt) && takes(d.dueAt) && !cancellationWaits([d.event.payload.eventId]));
    if (due.length === 0) return;
    state.datedUpdates = (state.datedUpdates ?? []).filter((d) => !due.includes(d));
    const applied: { d: DatedUpdate; moved: string[]; changed: string[] }[] = [];
    for (const d of due) {
      const result = await acts.applyHrEvent({ ...ref, eventRowId: d.event.id, payload: d.event.payload, recoverEarlierChanges: true, observedAt: d.dueAt });
      if (!result.personExists) {
        if (d.runId !== null) await cancel(d.runId, 'the person is not hired on its effective date');
        await awaitHire(d.event);
        continue;
      }
      if (state.personState === 'unknown') state.personState = lifecycleStateOf(result.personStatus);
      applied.push({ d, moved: movedAttributes(result.changed), changed: result.changed });
    }
    const moved = [...new Set(applied.flatMap((a) => a.moved))];
    const mover = state.personState === 'active' ? applied.find((a) => a.moved.length > 0 && a.d.runId !== null) : undefined;
    if (mover) await run('mover', 'effective_date', mover.d.event.payload.eventId, `changed: ${moved.join(', ')}`, mover.d.runId as string);
    for (const a of applied) {
      if (a.d.runId !== null && a !== mover) {
        const standing = state.personState === 'unknown' ? 'not started' : state.personState;
        await cancel(a.d.runId, mover && a.moved.length > 0 ? `merged into mover run ${mover.d.runId} on the same date`
          : state.personState === 'active' ? 'no mover attribute changed on its effective date' : `the person is ${standing} on its effective date`);
      }
      const outcome = mover && a.moved.length > 0 ? `mover ran (${a.moved.join(', ')})` : profileUpdatedOutcome(a.changed);
      await acts.markHrEvent({ ...ref, eventRowId: a.d.event.id, status: 'applied', outcome: `on its effective date: ${outcome}` });
    }
  }

  /**
   * Ends the updates still waiting for their dates: the person left before them (leaver run `runId`). They
   * are kept with that run, to be restored should its termination be cancelled during the retention wait.
   */
  async function dropDatedUpdates(runId: string): Promise<void> {
    const reason = `the person left (leaver run ${runId})`;
    const dropped = state.datedUpdates ?? [];
    for (const d of dropped) {
      if (d.runId !== null) await cancel(d.runId, reason);
      await acts.markHrEvent({ ...ref, eventRowId: d.event.id, status: 'superseded', outcome: `${reason} before its effective date` });
    }
    state.datedUpdates = [];
    state.droppedByLeaver = { runId, updates: dropped };
  }

  /** Puts back the updates leaver run `runId` ended: its termination was cancelled, the person stays. */
  async function restoreDatedUpdates(runId: string, cancelledBy: string): Promise<void> {
    const dropped = state.droppedByLeaver?.runId === runId ? state.droppedByLeaver.updates : [];
    state.droppedByLeaver = null;
    for (const d of dropped) await scheduleUpdate(d.event, `restored: the termination was cancelled by HR event ${cancelledBy}`);
  }

  /** Whether a cancellation waiting in the inbox names one of these events (it goes before their dated work). */
  function cancellationWaits(eventIds: readonly string[]): boolean {
    return inbox.some((e) => e.payload.type === 'cancellation' && e.payload.cancelsEventId !== null && eventIds.includes(e.payload.cancelsEventId));
  }

  /** Whether a cancellation names an event of a pending run's chain (scheduled, following the joiner, or waiting to resume). */
  function cancelsRun(eventId: string | null): boolean {
    if (eventId === null) return false;
    return (state.scheduled !== null && chainOf(state.scheduled).includes(eventId))
      || (state.leaverAfterJoiner != null && chainOf(state.leaverAfterJoiner).includes(eventId))
      || (state.resume?.eventIds ?? []).includes(eventId);
  }

  /** Counts an event as processed (remembered, so a repeated delivery is ignored). */
  function countProcessed(e: LifecycleEvent): void {
    state.recentEventIds = [...state.recentEventIds, e.id].slice(-RECENT_EVENT_IDS);
    state.eventsProcessed += 1;
    processedThisRun += 1;
  }

  /** Keeps an event that came before the person's hire, to apply it once the hire arrives; the oldest kept goes first. */
  async function awaitHire(e: LifecycleEvent): Promise<void> {
    const awaiting = [...(state.awaitingHire ?? []), e];
    state.awaitingHire = awaiting.slice(-AWAITING_HIRE_EVENTS);
    await acts.markHrEvent({ ...ref, eventRowId: e.id, status: 'failed', outcome: `${NO_HIRE_YET}; it is applied when the hire arrives` });
    for (const dropped of awaiting.slice(0, -AWAITING_HIRE_EVENTS)) {
      await acts.markHrEvent({ ...ref, eventRowId: dropped.id, status: 'failed', outcome: `${NO_HIRE_YET}; no longer kept (more than ${AWAITING_HIRE_EVENTS} events waited for a hire)` });
    }
  }

  for (;;) {
    const dueAt = [state.scheduled?.dueAt, state.resume?.dueAt, state.datedUpdates?.[0]?.dueAt].filter((d): d is string => d !== undefined).sort()[0];
    const timeout = dueAt === undefined ? undefined : Math.max(0, Date.parse(dueAt) - Date.now());
    const woken = () => inbox.length > 0 || kickoffs.length > 0;
    if (timeout === undefined) await condition(woken);
    else await condition(woken, timeout);

    // Due work in date order: updates before a joiner due with them (a correction sent ahead for a start date
    // is the profile the joiner starts from), a leaver before updates due with or after it (it ends them).
    // A run can make the next one due (a fixed-term hire's leaver, after a backlog): dated runs look again.
    for (;;) {
      const runDue = state.scheduled && isDue(state.scheduled.dueAt) ? state.scheduled : null;
      if (state.datedUpdates?.length) {
        await applyDueUpdates(runDue === null ? undefined : (at) => at < runDue.dueAt || (runDue.kind === 'joiner' && at === runDue.dueAt));
      }
      if (!(state.scheduled && isDue(state.scheduled.dueAt))) break;
      // Left to a cancellation already waiting for it; updates due after it still wait, in case that
      // cancellation turns out not to cancel it (a later lifecycle event superseded it).
      if (cancellationsBeforeRuns && cancellationWaits(chainOf(state.scheduled))) break;
      const due = state.scheduled;
      state.scheduled = null;
      await run(due.kind, 'effective_date', due.eventId, null, due.runId, chainOf(due));
      if (!datedUpdates) break;
    }
    if (state.resume && isDue(state.resume.dueAt) && !(cancellationsBeforeRuns && cancellationWaits(state.resume.eventIds ?? []))) {
      const resume = state.resume;
      state.resume = null;
      await executeSteps(resume.runId, resume.kind, resume.steps, resume.eventIds ?? []);
      if (state.droppedByLeaver?.runId === resume.runId) state.droppedByLeaver = null;
    }
    while (kickoffs.length > 0) {
      const k = kickoffs.shift() as LifecycleKickoff;
      await run(k.kind, 'manual', null, k.reason, k.runId);
    }
    while (inbox.length > 0) {
      const cancelled = cancelledFirst(inbox[0]);
      if (cancelled) {
        // The cancellation stays remembered (it ages out): a copy of the event delivered later is superseded too.
        const e = inbox.shift() as LifecycleEvent;
        inFlight.add(e.id);
        await acts.markHrEvent({ ...ref, eventRowId: e.id, status: 'superseded', outcome: `cancelled by HR event ${cancelled.by}, which arrived first` });
        if (!retried.delete(e.id)) countProcessed(e);
        inFlight.delete(e.id);
        continue;
      }
      if (isFutureUpdate(inbox[0])) {
        const e = inbox.shift() as LifecycleEvent;
        inFlight.add(e.id);
        await scheduleUpdate(e);
        countProcessed(e);
        inFlight.delete(e.id);
        continue;
      }
      if (lateEvents && batchable(inbox[0])) {
        await applyUpdates();
        continue;
      }
      const e = inbox.shift() as LifecycleEvent;
      const retry = retried.delete(e.id);
      inFlight.add(e.id);
      if (lateEvents) await applyInOrder(e, retry);
      else await applyOrSupersede(e);
      if (!retry) countProcessed(e);
      inFlight.delete(e.id);
    }

    if ((processedThisRun >= (input.continueAfterEvents ?? CONTINUE_AFTER_EVENTS) || workflowInfo().continueAsNewSuggested)
      && inbox.length === 0 && kickoffs.length === 0) {
      await condition(allHandlersFinished);
      if (inbox.length === 0 && kickoffs.length === 0) {
        await continueAsNew<typeof lifecycle>({ ...input, state });
      }
    }
  }
}
