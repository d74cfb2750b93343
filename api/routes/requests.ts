import {
  WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { eligibilityFacts, getBundle } from '../../db/repositories/access-bundles';
import {
  type AccessRequest, findLiveRequest, getRequest, getSubmittedRequest, grantApprovedRequest, isApproverOf, listPendingApprovals, listRequestEvents, listRequests,
  recordSubmittedRequest, RequestClosedError, RequestExistsError, submissionHash,
} from '../../db/repositories/access-requests';
import { idFromKey, newId } from '../../db/repositories/ids';
import { missingPersonIds } from '../../db/repositories/people';
import type { accessRequest } from '../../workflows';
import { evaluateEligibility } from '../../workflows/access-policy';
import { accessRequestWorkflowId, type AccessRequestInput } from '../../workflows/access-request.types';
import { FailureTypes } from '../../workflows/failures';
import { cancelUpdate, decideUpdate } from '../../workflows/messages';
import { PortalBundleId, PortalStatus, PortalTenantId } from '../../workflows/search-attributes';
import type { ApiDeps, Caller } from '../context';
import { ApiError, type ProblemCode, ProblemCodes } from '../problems';
import { defineRoute } from '../route';
import { idempotencyHeaders, isoDate, pageOf, pageQuery, uuid } from '../schemas';
import { startPlanRound } from '../plan-execution';
import { beneficiaryOf } from './bundles';

const requestSchema = z.object({
  id: uuid, tenantId: uuid, bundleId: uuid, bundleVersion: z.int(), beneficiaryPersonId: uuid, submittedByPersonId: uuid.nullable(),
  justification: z.string(), durationSeconds: z.int().nullable(),
  status: z.enum(['pending', 'approved', 'granted', 'denied', 'cancelled', 'expired', 'revoked']),
  currentStage: z.int().nullable(), grantedAt: isoDate.nullable(), grantExpiresAt: isoDate.nullable(), workflowId: z.string(),
  createdAt: isoDate, updatedAt: isoDate,
}).meta({ id: 'AccessRequest' });

const requestDetailSchema = requestSchema.extend({
  stages: z.array(z.object({
    stage: z.int(),
    approvers: z.array(z.object({ personId: uuid, escalation: z.boolean(), decision: z.enum(['approve', 'deny']).nullable() })),
  })),
}).meta({ id: 'AccessRequestDetail' });

const eventSchema = z.object({
  id: z.string(), occurredAt: isoDate, kind: z.string(), stage: z.int().nullable(), actor: z.object({ kind: z.string(), id: z.string() }),
  bundleVersion: z.int(), details: z.record(z.string(), z.unknown()),
}).meta({ id: 'AccessRequestEvent' });

const submitBody = z.strictObject({
  bundleId: uuid,
  /** Who the access is for; the caller's own person when omitted. */
  personId: uuid.optional(),
  justification: z.string().trim().min(1).max(2000),
  durationSeconds: z.int().min(1).max(366 * 24 * 3600).optional(),
}).meta({ id: 'SubmitAccessRequest' });

const requestParams = z.strictObject({ requestId: uuid });

/** Loads a request the caller may see: every request with portal.requests.view, else their own or ones they approve. */
async function visibleRequest(deps: ApiDeps, caller: Caller, tenantId: string, requestId: string): Promise<AccessRequest> {
  const request = await getRequest(deps.db, tenantId, requestId);
  const sees = request && (caller.permissions.has('portal.requests.view') || caller.permissions.has('portal.requests.manage')
    || (caller.personId !== null && (request.beneficiaryPersonId === caller.personId || request.submittedByPersonId === caller.personId
      || await isApproverOf(deps.db, request.id, caller.personId))));
  if (!request || !sees) throw new ApiError('not_found', `Access request ${requestId} was not found.`);
  return request;
}

async function detail(deps: ApiDeps, request: AccessRequest) {
  const rows = await deps.db.selectFrom('access_request_approvers').select(['stage', 'person_id', 'escalation', 'decision'])
    .where('request_id', '=', request.id).orderBy('stage').orderBy('escalation').orderBy('person_id').execute();
  const stages = new Map<number, { personId: string; escalation: boolean; decision: 'approve' | 'deny' | null }[]>();
  for (const r of rows) stages.set(r.stage, [...(stages.get(r.stage) ?? []), { personId: r.person_id, escalation: r.escalation, decision: r.decision }]);
  return { ...request, stages: [...stages.entries()].map(([stage, approvers]) => ({ stage, approvers })) };
}

/**
 * The request already recorded under an Idempotency-Key, or null. A replay must ask for the same thing
 * (bundle, person, justification, duration): another body under the same key is refused, not answered with
 * the first request. Requests recorded before submissions were hashed are answered as before.
 */
async function replayedSubmission(deps: ApiDeps, tenantId: string, requestId: string, hash: string): Promise<AccessRequest | null> {
  const recorded = await getSubmittedRequest(deps.db, tenantId, requestId);
  if (!recorded) return null;
  if (recorded.submissionHash !== null && recorded.submissionHash !== hash) {
    throw new ApiError('idempotency_key_reused', `The Idempotency-Key was used for request ${requestId}, which asked for something else.`);
  }
  return recorded.request;
}

/** Turns an Update's refusal (its validator's code) or a closed run into the API's problem. */
async function runUpdate<T>(deps: ApiDeps, request: AccessRequest, update: () => Promise<T>): Promise<T> {
  if (request.status !== 'pending') throw new ApiError('request_closed', `The request is ${request.status}.`);
  try {
    return await update();
  } catch (err) {
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : null;
    if (cause instanceof ApplicationFailure && cause.type === FailureTypes.Refused && cause.message in ProblemCodes) {
      throw new ApiError(cause.message as ProblemCode, ProblemCodes[cause.message as ProblemCode].title);
    }
    const now = await getRequest(deps.db, request.tenantId, request.id);
    if (now && now.status !== 'pending') throw new ApiError('request_closed', `The request is ${now.status}.`);
    throw err;
  }
}

export const requestRoutes = [
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/requests', tag: 'access requests',
    summary: 'Request a bundle (idempotent on Idempotency-Key); approvals run in a workflow (202, then poll Location)',
    permission: 'portal.requests.submit', tenantScoped: true, body: submitBody, headers: idempotencyHeaders,
    responses: { 202: { description: 'Accepted: pending approval', schema: requestSchema, headers: { Location: 'The request' } } },
    handler: async ({ body, caller, tenant, deps, requestId: httpRequestId, req, log }) => {
      const key = req.get('idempotency-key');
      const requestId = key ? idFromKey(`access-request:${tenant.id}:${caller.personId ?? caller.tokenId}`, key) : newId();
      const location = `/v1/tenants/${tenant.id}/requests/${requestId}`;
      const beneficiary = beneficiaryOf(caller, body.personId);
      const hash = submissionHash({ bundleId: body.bundleId, beneficiaryPersonId: beneficiary, justification: body.justification, durationSeconds: body.durationSeconds ?? null });
      const replay = key ? await replayedSubmission(deps, tenant.id, requestId, hash) : null;
      if (replay) return { status: 202, body: replay, headers: { Location: location } };

      const bundle = await getBundle(deps.db, tenant.id, body.bundleId);
      const refs = [
        ...(bundle ? [] : [{ path: 'body.bundleId', message: 'no such bundle in this tenant' }]),
        ...((await missingPersonIds(deps.db, tenant.id, [beneficiary])).length > 0 ? [{ path: 'body.personId', message: 'no such person in this tenant' }] : []),
      ];
      if (!bundle || refs.length > 0) throw new ApiError('reference_not_found', 'The request names a bundle or person that does not exist here.', refs);
      const max = bundle.definition.maxDurationSeconds;
      if (max !== null && body.durationSeconds !== undefined && body.durationSeconds > max) {
        throw new ApiError('duration_too_long', `This bundle grants access for at most ${max} seconds.`);
      }
      const verdict = evaluateEligibility(bundle.definition.eligibility, await eligibilityFacts(deps.db, tenant.id, beneficiary));
      if (!verdict.eligible) {
        throw new ApiError('not_eligible', `Person ${beneficiary} may not request ${bundle.definition.name}: ${verdict.reasons.join('; ')}.`,
          verdict.reasons.map((message) => ({ path: 'eligibility', message })));
      }
      const live = await findLiveRequest(deps.db, tenant.id, bundle.id, beneficiary);
      if (live) throw new ApiError('request_exists', `Request ${live.id} for this bundle and person is ${live.status}.`);

      const input: AccessRequestInput = {
        tenantId: tenant.id, requestId, bundleId: bundle.id, bundleVersion: bundle.version, definition: bundle.definition,
        beneficiaryPersonId: beneficiary, submittedByPersonId: caller.personId, submittedByTokenId: caller.tokenId,
        justification: body.justification, durationSeconds: body.durationSeconds ?? max, submissionHash: hash,
      };
      const workflowId = accessRequestWorkflowId(requestId);
      // Start first, then record: a failed start changes nothing; the run itself repairs a lost write.
      try {
        await deps.temporal.client.workflow.start<typeof accessRequest>('accessRequest', {
          taskQueue: deps.temporal.taskQueue, workflowId, args: [input],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING, workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          typedSearchAttributes: [{ key: PortalTenantId, value: tenant.id }, { key: PortalBundleId, value: bundle.id }, { key: PortalStatus, value: 'pending' }],
          memo: { kind: 'access-request', tenantSlug: tenant.slug, bundle: bundle.definition.name, bundleVersion: bundle.version },
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
          log.error({ err, workflowId }, 'could not start access request');
          throw new ApiError('unavailable', 'The workflow engine is unavailable; nothing was submitted. Retry later.');
        }
      }
      try {
        await deps.db.transaction().execute((tx) => recordSubmittedRequest(tx, input, workflowId, httpRequestId));
      } catch (err) {
        if (!(err instanceof RequestExistsError)) throw err;
        // A concurrent submission for the same bundle and person was recorded first. The run this call
        // started must not live on (its own first write is refused the same way, which fails it).
        await deps.temporal.client.workflow.getHandle(workflowId).terminate('request_exists')
          .catch((e: unknown) => log.warn({ err: e, workflowId }, 'refused request run not terminated'));
        throw new ApiError('request_exists', 'An open or granted request for this bundle and person was just submitted.');
      }
      // Recorded by this call, or by a concurrent one under the same key (or by the run): the same request?
      const recorded = await replayedSubmission(deps, tenant.id, requestId, hash);
      return { status: 202, body: recorded, headers: { Location: location } };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/requests', tag: 'access requests',
    summary: 'List requests: all with portal.requests.view, otherwise the caller\'s own',
    permission: ['portal.requests.submit', 'portal.requests.view', 'portal.requests.manage'], tenantScoped: true,
    query: z.strictObject({
      ...pageQuery, status: requestSchema.shape.status.optional(), bundleId: uuid.optional(), personId: uuid.optional(),
    }),
    responses: { 200: { description: 'A page of requests', schema: pageOf(requestSchema) } },
    handler: async ({ query, caller, tenant, deps }) => {
      const all = caller.permissions.has('portal.requests.view') || caller.permissions.has('portal.requests.manage');
      if (!all && !caller.personId) throw new ApiError('person_required', 'Listing one\'s own requests needs a token that acts as a person.');
      const page = await listRequests(deps.db, tenant.id, {
        status: query.status, bundleId: query.bundleId, beneficiaryPersonId: query.personId, involvingPersonId: all ? undefined : caller.personId ?? undefined,
      }, query.cursor ?? null, query.limit);
      return { status: 200, body: page };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/requests/:requestId', tag: 'access requests', summary: 'Read a request with its stages and approvers',
    permission: ['portal.requests.submit', 'portal.requests.view', 'portal.requests.decide', 'portal.requests.manage'], tenantScoped: true, params: requestParams,
    responses: { 200: { description: 'The request', schema: requestDetailSchema } },
    handler: async ({ params, caller, tenant, deps }) => ({ status: 200, body: await detail(deps, await visibleRequest(deps, caller, tenant.id, params.requestId)) }),
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/requests/:requestId/history', tag: 'access requests',
    summary: 'A request\'s history in order: who, when, which stage, which bundle version',
    permission: ['portal.requests.submit', 'portal.requests.view', 'portal.requests.decide', 'portal.requests.manage'], tenantScoped: true, params: requestParams,
    responses: { 200: { description: 'The events', schema: z.object({ items: z.array(eventSchema) }) } },
    handler: async ({ params, caller, tenant, deps }) => {
      const request = await visibleRequest(deps, caller, tenant.id, params.requestId);
      return { status: 200, body: { items: await listRequestEvents(deps.db, tenant.id, request.id) } };
    },
  }),
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/requests/:requestId/decisions', tag: 'access requests',
    summary: 'Approve or deny as an approver of the current stage; refusals change nothing',
    permission: 'portal.requests.decide', tenantScoped: true, params: requestParams,
    body: z.strictObject({ decision: z.enum(['approve', 'deny']), comment: z.string().max(2000).nullable().optional() }).meta({ id: 'Decision' }),
    responses: { 200: { description: 'The request after the decision took effect', schema: requestDetailSchema } },
    handler: async ({ params, body, caller, tenant, deps, log }) => {
      if (!caller.personId) throw new ApiError('person_required', 'Decisions are made by people: use a token that acts as a person.');
      // Any decider of the tenant may try: the workflow's validator says precisely why someone may not decide.
      const request = await getRequest(deps.db, tenant.id, params.requestId);
      if (!request) throw new ApiError('not_found', `Access request ${params.requestId} was not found.`);
      const result = await runUpdate(deps, request, () => deps.temporal.client.workflow.getHandle(request.workflowId)
        .executeUpdate(decideUpdate, { args: [{ personId: caller.personId as string, decision: body.decision, comment: body.comment ?? null }] }));
      // The last quorum is met: commit the grant now, on the request path (the workflow commits the same
      // grant as well, so a failure here loses nothing; the second commit finds it done).
      if (result.grant) {
        const grant = result.grant;
        const committed = await deps.db.transaction().execute((tx) => grantApprovedRequest(tx, grant))
          .catch((err: unknown) => {
            // The request ended before this decision could grant it: the decision changed nothing.
            if (err instanceof RequestClosedError) throw new ApiError('request_closed', `The request is ${err.status}.`);
            log.warn({ err, requestId: request.id }, 'grant left to the workflow');
          });
        // Downstream provisioning starts now, off the response path; the request's run starts the same
        // plan after its grace period in case this does not.
        const plan = committed ? committed.plan : null;
        if (plan?.needsExecution) {
          void startPlanRound(deps.temporal, { tenantId: tenant.id, planId: plan.planId, round: 1, origin: 'access_request' })
            .catch((err: unknown) => log.warn({ err, planId: plan.planId }, 'plan start left to the request workflow'));
        }
      }
      return { status: 200, body: await detail(deps, (await getRequest(deps.db, tenant.id, request.id)) as AccessRequest) };
    },
  }),
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/requests/:requestId/cancel', tag: 'access requests',
    summary: 'Cancel a pending request (its requester, or portal.requests.manage)',
    permission: ['portal.requests.submit', 'portal.requests.manage'], tenantScoped: true, params: requestParams,
    body: z.strictObject({ reason: z.string().max(2000).nullable().optional() }).meta({ id: 'CancelRequest' }),
    responses: { 200: { description: 'The cancelled request', schema: requestDetailSchema } },
    handler: async ({ params, body, caller, tenant, deps }) => {
      const administrative = caller.permissions.has('portal.requests.manage');
      if (!administrative && !caller.personId) throw new ApiError('person_required', 'Cancelling one\'s request needs a token that acts as a person.');
      const request = await visibleRequest(deps, caller, tenant.id, params.requestId);
      await runUpdate(deps, request, () => deps.temporal.client.workflow.getHandle(request.workflowId)
        .executeUpdate(cancelUpdate, { args: [{ personId: caller.personId, tokenId: caller.tokenId, administrative, reason: body.reason ?? null }] }));
      return { status: 200, body: await detail(deps, (await getRequest(deps.db, tenant.id, request.id)) as AccessRequest) };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/approvals', tag: 'access requests', summary: 'Requests waiting on the caller\'s decision',
    permission: 'portal.requests.decide', tenantScoped: true, query: z.strictObject(pageQuery),
    responses: { 200: { description: 'A page of requests', schema: pageOf(requestSchema) } },
    handler: async ({ query, caller, tenant, deps }) => {
      if (!caller.personId) throw new ApiError('person_required', 'Approvals belong to people: use a token that acts as a person.');
      return { status: 200, body: await listPendingApprovals(deps.db, tenant.id, caller.personId, query.cursor ?? null, query.limit) };
    },
  }),
];
