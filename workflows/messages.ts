/**
 * Every signal, query and update, defined once with stable wire names. Dependency-free apart from the
 * workflow SDK's definers, so the API imports it too.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AccessRequestState, CancelInput, DecideInput, DecideResult } from './access-request.types';
import type { LifecycleEvent, LifecycleKickoff, LifecycleState } from './lifecycle.types';
import type { PersonSetupState } from './person-setup.types';
import type { PlanRunState, StepCallbackInput } from './plan.types';

export const personSetupStateQuery = defineQuery<PersonSetupState>('portal.personSetup.state');

export const accessRequestStateQuery = defineQuery<AccessRequestState>('portal.accessRequest.state');
/** An approver's decision; the validator refuses anyone who may not decide now, leaving no trace. */
export const decideUpdate = defineUpdate<DecideResult, [DecideInput]>('portal.accessRequest.decide');
/** Cancels a pending request (its requester, or an administrator). */
export const cancelUpdate = defineUpdate<AccessRequestState, [CancelInput]>('portal.accessRequest.cancel');

export const lifecycleStateQuery = defineQuery<LifecycleState>('portal.lifecycle.state');
/** Accepted HR events for this person, oldest first (signal-with-start from the API's dispatcher). */
export const hrEventsSignal = defineSignal<[LifecycleEvent[]]>('portal.lifecycle.hrEvents');
/**
 * One accepted HR event: what API processes sent before events were handed over in batches. Still handled,
 * for running lifecycles whose histories hold it and for an API of the previous version during a rollout.
 */
export const hrEventSignal = defineSignal<[LifecycleEvent]>('portal.lifecycle.hrEvent');
/** A manual kickoff of a joiner, mover or leaver run. */
export const kickoffSignal = defineSignal<[LifecycleKickoff]>('portal.lifecycle.kickoff');

export const planStateQuery = defineQuery<PlanRunState>('portal.plan.state');
/** Completes a step awaiting a callback; the validator refuses a step not waiting, a stale token or a replay. */
export const stepCallbackUpdate = defineUpdate<PlanRunState, [StepCallbackInput]>('portal.plan.stepCallback');
