import {
  allHandlersFinished, ApplicationFailure, condition, patched, proxyLocalActivities, setHandler, sleep, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { decisionRefusal, requiredApprovals, stageOutcome } from './access-policy';
import type { AccessRequestInput, AccessRequestState, CancelInput, GrantRequestInput, RequestStatus, StageState } from './access-request.types';
import { LocalActivityProfiles } from './activity-options';
import { FailureTypes } from './failures';
import { accessRequestStateQuery, cancelUpdate, decideUpdate } from './messages';
import { executePlan } from './plan-start';
import { PortalStatus } from './search-attributes';

// Every step is a short, idempotent PostgreSQL transaction: local activities keep approve-to-grant close to
// one Update round trip plus the commits themselves.
const { recordSubmission, resolveStage, markStageOpen, recordDecision, recordTransition, grantBundle, revokeGrant } = proxyLocalActivities<Activities>(LocalActivityProfiles.databaseWrite);

/**
 * After the approving Update has answered, the API commits the grant; this run commits the same grant only
 * after this grace period, so the two never contend for the request's row lock and the API's commit is the
 * one that counts (the run's then finds it done). If the API failed, the run grants a moment later.
 */
const API_GRANT_GRACE_MS = 2_000;

/** Patch: grants and expiry revocations execute their provisioning plan (downstream systems). */
const GRANT_THROUGH_PLAN = 'grant-through-plan';
const REVOKE_THROUGH_PLAN = 'revoke-through-plan';
/**
 * Patch: GRANT_THROUGH_PLAN's answer is taken as the run starts. It was first checked right after the
 * grant's local activity, which does not replay when that activity's result landed in an earlier workflow
 * task than the code after it (seen when a worker dies mid-grant).
 */
const GRANT_PATCH_AT_START = 'grant-through-plan-at-start';
/**
 * Patch, asked as a run starts: a decision accepted while a stage's opening (or escalation) is still being
 * written waits for that write before it is recorded or answered. The approvers are known, and decisions
 * accepted, from the moment they are resolved; answered at once, a final approval let the API commit the
 * grant before the opening landed (history: `stage_opened` after `granted`, and the request's current stage
 * set again on a granted request).
 */
const DECISIONS_AFTER_OPENING = 'decisions-after-stage-open';

function refuse(code: string): never {
  throw ApplicationFailure.create({ type: FailureTypes.Refused, message: code, details: [code], nonRetryable: true });
}

/**
 * One access request, from submission to grant (and revocation at expiry for a time-bound grant).
 * Sequential stages, each with its own approvers and M-of-N quorum; any deny ends the request; a stage
 * timeout escalates or expires. Decisions and cancellation are Updates whose validators refuse, without a
 * trace in the history, anyone who may not act. The request row, its history and audit events in
 * PostgreSQL are written by activities; this workflow holds the authoritative state while it runs.
 */
export async function accessRequest(input: AccessRequestInput): Promise<AccessRequestState> {
  /**
   * Patches are checked when a run starts, never first after a local activity: a local activity's result can be
 * recorded in one workflow task and the code after it run in the next (a worker that dies mid-activity, or an
 * activity outlasting the task's heartbeat), and a patch first checked there replays as unpatched.
   */
  const grantPatchAtStart = patched(GRANT_PATCH_AT_START);
  const decisionsAfterOpening = patched(DECISIONS_AFTER_OPENING);
  const { policy } = input.definition;
  const state: AccessRequestState = {
    requestId: input.requestId, status: 'pending', bundleVersion: input.bundleVersion, currentStage: null, stages: [], grantedAt: null, expiresAt: null,
  };
  const base = { tenantId: input.tenantId, requestId: input.requestId, bundleVersion: input.bundleVersion };
  const workflowActor = { kind: 'workflow' as const, id: workflowInfo().workflowId };
  let cancellation: CancelInput | null = null;
  let pendingWrites = 0;
  /** Stage openings (or escalations) being written: decisions wait for them (patch DECISIONS_AFTER_OPENING). */
  let openingWrites = 0;
  /** The highest stage whose opening is recorded in PostgreSQL (what clients see). */
  let recordedOpen = -1;
  const grantInput = { ...base, beneficiaryPersonId: input.beneficiaryPersonId, items: input.definition.items, durationSeconds: input.durationSeconds };
  let finalDecision: GrantRequestInput['decision'] | null = null;
  /**
   * Set synchronously, before the first await, once the run knows the request ends (expired, denied,
   * cancelled): until the status write lands state.status still reads pending, and a decision or cancellation
   * accepted meanwhile would act on a request that is already over (a decision meeting the quorum would let
   * the API grant it). Only the validators read it, so setting it never changes the run's commands.
   */
  let closing = false;
  /**
   * Set, likewise, from a stage's timeout until its escalation approvers are in place: the original
   * approvers may no longer decide, and the escalation approvers may not yet.
   */
  let escalating = false;

  const current = (): StageState | null => (state.currentStage === null ? null : state.stages[state.currentStage] ?? null);
  const counted = (stage: StageState) => stage.decisions.filter((d) => stage.approvers.includes(d.personId));
  const outcome = (stage: StageState) => (stage.required === null ? 'open' : stageOutcome(stage.required, counted(stage)));
  const closed = () => state.status !== 'pending' && state.status !== 'approved';
  /** The request is over, or will be once the run's next write lands: a deny is in, or a final status is being written. */
  const ending = () => closing || (current() !== null && outcome(current() as StageState) === 'denied');

  /** Ends the request with a final status; see `closing` for why the flag is set before the write. */
  async function setStatus(status: RequestStatus, kind: string, actor: { kind: 'workflow' | 'person' | 'api_token'; id: string }, details: Record<string, unknown> = {}) {
    closing = true;
    await recordTransition({ ...base, status, kind, stage: state.currentStage, actor, details, dedupeKey: kind });
    state.status = status;
    upsertSearchAttributes([{ key: PortalStatus, value: status }]);
  }

  setHandler(accessRequestStateQuery, () => state);

  setHandler(decideUpdate, async (d) => {
    const stage = current() as StageState;
    stage.decisions.push({ personId: d.personId, decision: d.decision, comment: d.comment });
    const decision = { ...base, stage: stage.index, personId: d.personId, decision: d.decision, comment: d.comment };
    // Whether this decision meets the last quorum is decided now, as it is accepted: a decision accepted
    // before it and still waiting below must not answer with the grant too.
    const final = outcome(stage) === 'approved' && stage.index === policy.stages.length - 1;
    if (decisionsAfterOpening && openingWrites > 0) {
      // Approved from now on, so a cancellation is refused while this waits; counted as a pending write, so
      // the stage is not settled on this decision before it is recorded.
      if (final) state.status = 'approved';
      pendingWrites += 1;
      try {
        await condition(() => openingWrites === 0);
      } finally {
        pendingWrites -= 1;
      }
    }
    if (final) {
      // This decision meets the last quorum. Answer at once with what the grant needs: the API commits it
      // (decision, approval and grant in one transaction) while this run commits the same grant itself.
      state.status = 'approved';
      finalDecision = decision;
      return { state, grant: { ...grantInput, stage: stage.index, decision } };
    }
    pendingWrites += 1;
    try {
      await recordDecision(decision);
    } finally {
      pendingWrites -= 1;
    }
    // Answer once the decision's consequence is visible: the next stage opened, or the request settled.
    if (outcome(stage) !== 'open') await condition(() => recordedOpen > stage.index || closed());
    return { state, grant: null };
  }, {
    validator: (d) => {
      const stage = current();
      const refusal = decisionRefusal({
        open: state.status === 'pending' && cancellation === null && !ending(),
        beneficiaryPersonId: input.beneficiaryPersonId,
        submittedByPersonId: input.submittedByPersonId,
        // Between stages (the next one not yet open) and while a stage is being escalated nobody is an approver.
        approvers: stage && !escalating && outcome(stage) === 'open' ? stage.approvers : [],
        decidedThisStage: stage?.decisions.map((x) => x.personId) ?? [],
        decidedEarlier: state.stages.filter((s) => s !== stage).flatMap((s) => s.decisions.map((x) => x.personId)),
        approverOncePerRequest: policy.approverOncePerRequest,
      }, d.personId);
      if (refusal) refuse(refusal);
    },
  });

  setHandler(cancelUpdate, async (c) => {
    cancellation = c;
    await condition(() => closed());
    return state;
  }, {
    validator: (c) => {
      if (state.status !== 'pending' || cancellation !== null || ending()) refuse('request_closed');
      if (!c.administrative && c.personId !== input.beneficiaryPersonId && c.personId !== input.submittedByPersonId) refuse('not_requester');
    },
  });

  /** Records a stage's opening or escalation; decisions accepted meanwhile wait for it. */
  async function recordOpening(input: Parameters<typeof markStageOpen>[0]): Promise<void> {
    openingWrites += 1;
    try {
      await markStageOpen(input);
    } finally {
      openingWrites -= 1;
    }
  }

  /** Waits for a stage to be decided, cancelled or timed out. */
  async function awaitStage(stage: StageState, seconds: number): Promise<'approved' | 'denied' | 'cancelled' | 'timed_out'> {
    if (stage.required === null) return 'timed_out';
    const settled = await condition(() => cancellation !== null || (outcome(stage) !== 'open' && pendingWrites === 0), seconds * 1000);
    if (cancellation) return 'cancelled';
    return settled ? (outcome(stage) as 'approved' | 'denied') : 'timed_out';
  }

  // The API records the submission after starting this run; if that write was lost, this one repairs it.
  await recordSubmission(input);
  upsertSearchAttributes([{ key: PortalStatus, value: 'pending' }]);
  let result: 'approved' | 'denied' | 'cancelled' | 'expired' = 'approved';
  for (let i = 0; i < policy.stages.length && result === 'approved'; i += 1) {
    const spec = policy.stages[i]!;
    const decidedEarlier = state.stages.flatMap((s) => s.decisions.map((x) => x.personId));
    const opened = await resolveStage({
      ...base, stage: i, approvers: spec.approvers, escalation: false, ownerPersonId: input.definition.ownerPersonId,
      beneficiaryPersonId: input.beneficiaryPersonId, submittedByPersonId: input.submittedByPersonId, decidedEarlier,
      approverOncePerRequest: policy.approverOncePerRequest, quorum: spec.quorum,
    });
    const stage: StageState = { index: i, name: spec.name, approvers: opened.approvers, required: requiredApprovals(spec.quorum, opened.approvers.length), decisions: [], escalated: false };
    state.stages.push(stage);
    state.currentStage = i;
    await recordOpening({ ...base, stage: i, escalation: false, approvers: stage.approvers, required: stage.required, quorum: spec.quorum });
    recordedOpen = i;

    let stageResult = await awaitStage(stage, spec.timeout.afterSeconds);
    if (stageResult === 'timed_out' && spec.timeout.action === 'escalate') {
      escalating = true;
      const quorum = spec.timeout.escalationQuorum ?? { type: 'count', count: 1 };
      const escalated = await resolveStage({
        ...base, stage: i, approvers: spec.timeout.escalateTo ?? [], escalation: true, ownerPersonId: input.definition.ownerPersonId,
        beneficiaryPersonId: input.beneficiaryPersonId, submittedByPersonId: input.submittedByPersonId, decidedEarlier,
        approverOncePerRequest: policy.approverOncePerRequest, quorum,
      });
      // The escalation approvers now decide the stage alone, under their own quorum.
      stage.approvers = escalated.approvers;
      stage.required = requiredApprovals(quorum, escalated.approvers.length);
      stage.escalated = true;
      escalating = false;
      await recordOpening({ ...base, stage: i, escalation: true, approvers: stage.approvers, required: stage.required, quorum });
      stageResult = await awaitStage(stage, spec.timeout.escalationAfterSeconds ?? spec.timeout.afterSeconds);
    }
    result = stageResult === 'timed_out' ? 'expired' : stageResult;
  }

  if (result === 'approved') {
    // Approval and grant commit together: one transaction, so approved-but-not-granted is never visible.
    state.status = 'approved';
    if (finalDecision) await sleep(API_GRANT_GRACE_MS);
    const grant = await grantBundle({ ...grantInput, stage: state.currentStage, ...(finalDecision ? { decision: finalDecision } : {}) });
    state.grantedAt = grant.grantedAt;
    state.expiresAt = grant.expiresAt;
    state.status = 'granted';
    state.currentStage = null;
    upsertSearchAttributes([{ key: PortalStatus, value: 'granted' }]);
    if ((grantPatchAtStart || patched(GRANT_THROUGH_PLAN)) && grant.plan?.needsExecution) await executePlan(input.tenantId, grant.plan, 'access_request');
    if (grant.expiresAt !== null) {
      // The grant is time-bound: this durable timer revokes it at the recorded expiry, whatever happens to
      // workers meanwhile.
      await sleep(Math.max(0, Date.parse(grant.expiresAt) - Date.now()));
      if (patched(REVOKE_THROUGH_PLAN)) {
        const plan = await revokeGrant({ ...base, beneficiaryPersonId: input.beneficiaryPersonId, items: input.definition.items });
        if (plan?.needsExecution) await executePlan(input.tenantId, plan, 'access_request');
      } else {
        await revokeGrant({ ...base, beneficiaryPersonId: input.beneficiaryPersonId });
      }
      state.status = 'revoked';
      upsertSearchAttributes([{ key: PortalStatus, value: 'revoked' }]);
    }
  } else if (result === 'cancelled') {
    const c = cancellation as CancelInput | null;
    const actor = c?.personId ? { kind: 'person' as const, id: c.personId } : { kind: 'api_token' as const, id: c?.tokenId ?? 'unknown' };
    await setStatus('cancelled', 'cancelled', actor, { reason: c?.reason ?? null, stage: state.currentStage });
  } else if (result === 'denied') {
    const denial = current()?.decisions.find((d) => d.decision === 'deny');
    await setStatus('denied', 'denied', denial ? { kind: 'person', id: denial.personId } : workflowActor, { stage: state.currentStage });
  } else {
    const stage = current();
    await setStatus('expired', 'expired', workflowActor, { stage: state.currentStage, reason: stage?.required === null ? 'no_eligible_approvers' : 'timed_out' });
  }
  state.currentStage = null;

  await condition(allHandlersFinished);
  return state;
}
