import {
  ActivityFailure, allHandlersFinished, ApplicationFailure, condition, patched, proxyActivities, proxyLocalActivities, setHandler,
  upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ActivityProfiles, LocalActivityProfiles } from './activity-options';
import { FailureTypes } from './failures';
import { planStateQuery, stepCallbackUpdate } from './messages';
import { type NodeStatus, schedulable } from './plan-graph';
import type { PlanExecutionInput, PlanRunState, PlanStepShape, StepCallbackInput, StepExecutionResult } from './plan.types';
import { PortalStatus } from './search-attributes';
import { connectorTaskQueue } from './task-queues';

// Portal-native steps and the plan's bookkeeping are short PostgreSQL transactions run in-process.
const { loadPlanForExecution, recordPlanStatus, executePortalStep, recordCallbackOutcome } = proxyLocalActivities<Activities>(LocalActivityProfiles.databaseWrite);

function refuse(code: string): never {
  throw ApplicationFailure.create({ type: FailureTypes.Refused, message: code, details: [code], nonRetryable: true });
}

const DEFAULT_MAX_PARALLEL = 4;

/** Patch: a step waiting for its callback gives its parallelism slot back while it waits. */
const CALLBACK_FREES_SLOT = 'callback-frees-slot';

/**
 * One execution round of a provisioning plan (`plan:<id>`). The plan itself is immutable in PostgreSQL;
 * this run is given its step graph or loads it, skips what succeeded before (an earlier round, or the transaction that
 * created the plan), and runs the rest in dependency order, independent steps in parallel up to a bound.
 * Connector steps run as activities on their vendor's task queue (rate-limited there); each attempt appends
 * evidence. A step may wait for a callback until its deadline. The round ends `completed` (recorded by the
 * success of the last outstanding step, or by this run) or `completed_with_failures`; an operator's retry
 * starts the next round under the same workflow ID.
 */
export async function provisioningPlan(input: PlanExecutionInput): Promise<PlanRunState> {
  /**
   * Patches are checked when a run starts, never first after a local activity: a local activity's result can be
 * recorded in one workflow task and the code after it run in the next (a worker that dies mid-activity, or an
 * activity outlasting the task's heartbeat), and a patch first checked there replays as unpatched.
   */
  const callbackFreesSlot = patched(CALLBACK_FREES_SLOT);
  const state: PlanRunState = { planId: input.planId, round: input.round, status: 'running', steps: {} };
  const base = { tenantId: input.tenantId, planId: input.planId, round: input.round };
  const callbacks = new Map<string, StepCallbackInput>();
  const awaitingToken = new Map<string, string>();
  /**
   * Steps in flight (holding a parallelism slot), steps waiting for a callback without one, and a count of
   * changes the scheduler wakes on (a step finished, or a slot given back).
   */
  let running = 0;
  let waiting = 0;
  let changes = 0;
  /** Steps whose callback wait has ended (deadline or arrival): a callback now is late. */
  const waitOver = new Set<string>();
  /** A step's success left nothing outstanding and recorded the plan completed (with its audit event). */
  let completedByStep = false;

  setHandler(planStateQuery, () => state);
  setHandler(stepCallbackUpdate, (callback) => {
    callbacks.set(callback.stepKey, callback);
    return state;
  }, {
    validator: (callback) => {
      const status = state.steps[callback.stepKey]?.status;
      // Before the wait (the token can reach the vendor before this run has seen the step's result): early,
      // worth repeating. After it (deadline passed, or its outcome being recorded): late.
      if (status === 'pending' || status === 'running') refuse('step_not_awaiting_callback_yet');
      if (status !== 'awaiting_callback' || waitOver.has(callback.stepKey)) refuse('step_not_awaiting_callback');
      if (awaitingToken.get(callback.stepKey) !== callback.tokenId) refuse('callback_token_not_current');
      if (callbacks.has(callback.stepKey)) refuse('callback_replayed');
    },
  });

  // The graph the recorder gave (it recorded the round as running), or loaded as the round is recorded.
  const plan = input.graph ?? await loadPlanForExecution(base);
  const shapes = new Map(plan.steps.map((s) => [s.key, s]));
  for (const step of plan.steps) {
    state.steps[step.key] = plan.succeeded.includes(step.key) ? { status: 'succeeded', outcome: 'earlier' } : { status: 'pending', outcome: null };
  }
  // PortalStatus is `running` from the start of every round (its starters set it): no upsert here.

  const connectorActivities = new Map<string, Pick<Activities, 'executeConnectorStep'>>();
  /**
   * The vendor's queue, with the step's connector instance as its fairness key: the server rate-limits each
   * instance (one tenant's connection) on its own, so one tenant's large plan never takes another's share.
   */
  function onConnectorQueue(kind: string, instanceId: string | null | undefined) {
    const key = `${kind}|${instanceId ?? ''}`;
    let proxy = connectorActivities.get(key);
    if (!proxy) {
      proxy = proxyActivities<Activities>({
        ...ActivityProfiles.connectorCall, taskQueue: connectorTaskQueue(workflowInfo().taskQueue, kind), ...(instanceId ? { priority: { fairnessKey: instanceId } } : {}),
      });
      connectorActivities.set(key, proxy);
    }
    return proxy;
  }

  async function runStep(shape: PlanStepShape): Promise<void> {
    const step = state.steps[shape.key]!;
    let holdsSlot = true;
    step.status = 'running';
    const ref = { ...base, stepKey: shape.key };
    try {
      const result: StepExecutionResult = shape.target === 'portal'
        ? await executePortalStep(ref)
        : await onConnectorQueue(shape.connectorKind as string, shape.connectorInstanceId).executeConnectorStep(ref);
      if (result.outcome !== 'awaiting_callback') {
        step.status = 'succeeded';
        step.outcome = result.outcome;
        if (result.completedPlan) completedByStep = true;
        return;
      }
      step.status = 'awaiting_callback';
      step.outcome = 'awaiting_callback';
      awaitingToken.set(shape.key, result.callbackTokenId as string);
      if (callbackFreesSlot) {
        // A ticket or a person may take days: other ready steps run meanwhile.
        holdsSlot = false;
        running -= 1;
        waiting += 1;
        changes += 1;
      }
      const arrived = await condition(() => callbacks.has(shape.key), (shape.callbackDeadlineSeconds ?? 3600) * 1000);
      waitOver.add(shape.key);
      const callback = callbacks.get(shape.key);
      const outcome = await recordCallbackOutcome({
        ...ref, tokenId: result.callbackTokenId as string, result: arrived && callback ? callback.result : 'deadline_passed', detail: callback?.detail ?? {},
      });
      step.status = outcome === 'applied' ? 'succeeded' : 'failed';
      step.outcome = outcome;
    } catch (err) {
      // The activity recorded the attempt's evidence; the failure's type says why it stopped.
      step.status = 'failed';
      step.outcome = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? (err.cause.type ?? 'failed') : 'failed';
    } finally {
      if (holdsSlot) running -= 1;
      else waiting -= 1;
      changes += 1;
    }
  }

  const maxParallel = input.maxParallel ?? DEFAULT_MAX_PARALLEL;
  for (;;) {
    const statuses = Object.fromEntries(Object.entries(state.steps).map(([k, v]) => [k, v.status as NodeStatus]));
    const { ready, blocked } = schedulable(plan.steps, statuses);
    for (const key of blocked) state.steps[key] = { status: 'blocked', outcome: 'dependency_failed' };
    if (blocked.length > 0) continue;
    if (ready.length === 0 && running === 0 && waiting === 0) break;
    for (const key of ready.slice(0, Math.max(0, maxParallel - running))) {
      running += 1;
      void runStep(shapes.get(key)!);
    }
    const seen = changes;
    await condition(() => changes > seen);
  }

  const succeeded = Object.keys(state.steps).filter((k) => state.steps[k]!.status === 'succeeded');
  const failed = Object.keys(state.steps).filter((k) => state.steps[k]!.status !== 'succeeded');
  state.status = failed.length === 0 ? 'completed' : 'completed_with_failures';
  // Unless the last outstanding step's success recorded the completion (steps in older histories never say so).
  if (!(state.status === 'completed' && completedByStep)) await recordPlanStatus({ ...base, status: state.status, succeeded, failed });
  upsertSearchAttributes([{ key: PortalStatus, value: state.status }]);
  await condition(allHandlersFinished);
  return state;
}
