import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { manualTaskParameters, portalAccessParameters, portalTargetObject } from '../../activities/plans';
import { capabilitiesOf, capabilityFor } from '../../connectors/capabilities';
import { connectorPlugin } from '../../connectors/registry';
import { connectorStepSchema } from '../../connectors/steps';
import { StepOperations } from '../../connectors/types';
import type { Executor } from '../../db/database';
import { appendAudit, listAllAudit } from '../../db/repositories/audit';
import { canonicalHash } from '../../db/repositories/canonical-json';
import { type CatalogTable, missingCatalogIds } from '../../db/repositories/catalog';
import { getConnectorInstance } from '../../db/repositories/connector-instances';
import { idFromKey, newId } from '../../db/repositories/ids';
import { missingPersonIds } from '../../db/repositories/people';
import {
  claimRetryRound, getPlan, getPlanSummary, insertPlan, listPlans, type Plan, type PlanDetail, planContent, type PlanStepInput, planSubmissionHash, planWorkflowId,
  takenIdempotencyKeys,
} from '../../db/repositories/plans';
import { verifyCallbackToken } from '../../workers/callback-tokens';
import { FailureTypes } from '../../workflows/failures';
import { stepCallbackUpdate } from '../../workflows/messages';
import { planGraphProblems } from '../../workflows/plan-graph';
import { actorOf } from '../context';
import { startPlanRound } from '../plan-execution';
import { ApiError, type FieldError } from '../problems';
import { defineRoute } from '../route';
import { idempotencyHeaders, isoDate, pageOf, pageQuery, uuid } from '../schemas';

const stepKey = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits and _ . : - (at most 64)');
const planStatus = z.enum(['pending', 'running', 'completed', 'completed_with_failures']);
const originKind = z.enum(['access_request', 'lifecycle_run', 'operator']);

const stepTarget = z.union([
  z.object({ system: z.literal('portal') }),
  z.object({ system: z.literal('connector'), connectorInstanceId: uuid, connectorKind: z.string() }),
]);

const planSchema = z.object({
  id: uuid, tenantId: uuid, origin: z.object({ kind: originKind, id: z.string() }), reason: z.string(), contentHash: z.string(),
  createdBy: z.object({ kind: z.string(), id: z.string() }), createdAt: isoDate, status: planStatus, round: z.int(),
  succeeded: z.array(z.string()), failed: z.array(z.string()), workflowId: z.string(),
}).meta({ id: 'ProvisioningPlan' });

const evidenceSchema = z.object({
  id: z.string(), stepKey: z.string(), round: z.int(), attempt: z.int(), recordedAt: isoDate,
  outcome: z.enum(['applied', 'already_in_state', 'failed_retryable', 'failed_terminal', 'unverifiable', 'awaiting_callback']),
  calls: z.array(z.object({ method: z.string(), path: z.string(), status: z.int().nullable(), vendorRequestId: z.string().nullable(), startedAt: z.string(), durationMs: z.number() })),
  vendorRequestId: z.string().nullable(), error: z.record(z.string(), z.unknown()).nullable(), detail: z.record(z.string(), z.unknown()),
}).meta({ id: 'StepEvidence' });

const planDetailSchema = planSchema.extend({
  steps: z.array(z.object({
    key: z.string(), ordinal: z.int(), target: stepTarget, operation: z.string(), targetObject: z.string(), parameters: z.record(z.string(), z.unknown()),
    idempotencyKey: z.string(), dependsOn: z.array(z.string()), callbackDeadlineSeconds: z.int().nullable(),
    /** Where the step stands, from its latest evidence. */
    state: z.string(),
  })),
  evidence: z.array(evidenceSchema),
}).meta({ id: 'ProvisioningPlanDetail' });

const createStep = z.strictObject({
  key: stepKey,
  target: z.discriminatedUnion('system', [
    z.strictObject({ system: z.literal('portal') }),
    z.strictObject({ system: z.literal('connector'), connectorId: uuid }),
  ]),
  operation: z.enum(StepOperations),
  /** Portal steps: `group:<id>`, `role:<id>`, `application:<id>`, or a task name for manual_task. Connector steps: derived. */
  targetObject: z.string().min(1).max(256).optional(),
  parameters: z.record(z.string(), z.unknown()).default({}),
  dependsOn: z.array(stepKey).max(50).default([]),
  idempotencyKey: z.string().min(1).max(200).optional(),
  callbackDeadlineSeconds: z.int().min(1).max(30 * 24 * 3600).optional(),
});

const createBody = z.strictObject({
  reason: z.string().trim().min(1).max(2000),
  steps: z.array(createStep).min(1).max(200),
}).meta({ id: 'CreateProvisioningPlan' });

const planParams = z.strictObject({ planId: uuid });

function present(plan: Plan) {
  return { ...plan, workflowId: planWorkflowId(plan.id) };
}

/** The latest evidence outcome of each step (`pending` before any). */
function stepStates(plan: PlanDetail): Map<string, string> {
  const states = new Map<string, string>();
  for (const e of plan.evidence) states.set(e.stepKey, e.outcome);
  return states;
}

function presentDetail(plan: PlanDetail) {
  const states = stepStates(plan);
  return { ...present(plan), steps: plan.steps.map((s) => ({ ...s, state: states.get(s.key) ?? 'pending' })), evidence: plan.evidence };
}

const grantingOps = new Set(['add_to_group', 'remove_from_group', 'assign', 'unassign']);

/**
 * Validates an operator's steps against the tenant: graph shape, Portal-native parameters and references,
 * connector instances, parameters and capabilities. Returns the steps to record, or throws with every
 * problem found.
 */
async function resolveSteps(db: Executor, tenantId: string, planId: string, steps: z.output<typeof createStep>[]): Promise<PlanStepInput[]> {
  const errors: FieldError[] = planGraphProblems(steps).map((message) => ({ path: 'body.steps', message }));
  const resolved: PlanStepInput[] = [];
  for (const [i, step] of steps.entries()) {
    const at = `body.steps[${i}]`;
    const base = {
      key: step.key, operation: step.operation, dependsOn: step.dependsOn, callbackDeadlineSeconds: step.callbackDeadlineSeconds ?? null,
      ...(step.idempotencyKey ? { idempotencyKey: step.idempotencyKey } : {}),
    };
    if (step.target.system === 'portal') {
      if (step.operation === 'manual_task') {
        const params = manualTaskParameters.safeParse(step.parameters);
        if (!params.success) errors.push(...params.error.issues.map((x) => ({ path: `${at}.parameters.${x.path.join('.')}`, message: x.message })));
        else if (params.data.recipientPersonId && (await missingPersonIds(db, tenantId, [params.data.recipientPersonId])).length > 0) {
          errors.push({ path: `${at}.parameters.recipientPersonId`, message: 'no such person in this tenant' });
        }
        resolved.push({ ...base, target: { system: 'portal' }, targetObject: step.targetObject ?? 'manual-task', parameters: step.parameters });
        continue;
      }
      if (!grantingOps.has(step.operation)) {
        errors.push({ path: `${at}.operation`, message: `Portal-native steps support ${[...grantingOps, 'manual_task'].join(', ')}` });
        continue;
      }
      const target = portalTargetObject.safeParse(step.targetObject);
      // How an edge came to be is Portal's to record: an operator naming `iga_grant` or a request's
      // reference would forge a governed grant (and a removal naming a reference would touch only that).
      const { source, sourceRef, ...accessParameters } = step.parameters;
      for (const [name, value] of Object.entries({ source, sourceRef })) {
        if (value !== undefined) errors.push({ path: `${at}.parameters.${name}`, message: 'set by Portal, not by an operator\'s plan' });
      }
      const params = portalAccessParameters.safeParse(accessParameters);
      if (!target.success) errors.push({ path: `${at}.targetObject`, message: target.error.issues[0]?.message ?? 'invalid' });
      if (!params.success) errors.push(...params.error.issues.map((x) => ({ path: `${at}.parameters.${x.path.join('.')}`, message: x.message })));
      if (!target.success || !params.success) continue;
      const [kind, id] = target.data.split(':') as ['role' | 'application' | 'group', string];
      const groupOp = step.operation === 'add_to_group' || step.operation === 'remove_from_group';
      if (groupOp !== (kind === 'group')) errors.push({ path: `${at}.targetObject`, message: `${step.operation} needs ${groupOp ? 'a group' : 'a role or an application'}` });
      const table: CatalogTable = kind === 'group' ? 'groups' : kind === 'role' ? 'roles' : 'applications';
      if ((await missingCatalogIds(db, table, tenantId, [id])).length > 0) errors.push({ path: `${at}.targetObject`, message: `no ${kind} ${id} in this tenant` });
      if ((await missingPersonIds(db, tenantId, [params.data.personId])).length > 0) errors.push({ path: `${at}.parameters.personId`, message: 'no such person in this tenant' });
      resolved.push({ ...base, target: { system: 'portal' }, targetObject: target.data, parameters: params.data });
      continue;
    }
    const instance = await getConnectorInstance(db, tenantId, step.target.connectorId);
    if (!instance) {
      errors.push({ path: `${at}.target.connectorId`, message: 'no such connector in this tenant' });
      continue;
    }
    if (step.operation === 'manual_task') {
      errors.push({ path: `${at}.operation`, message: 'manual_task is a Portal-native step' });
      continue;
    }
    const parsed = connectorStepSchema.safeParse({ operation: step.operation, ...step.parameters });
    if (!parsed.success) {
      errors.push(...parsed.error.issues.map((x) => ({ path: `${at}.parameters.${x.path.join('.')}`, message: x.message })));
      continue;
    }
    const plugin = connectorPlugin(instance.kind);
    if (!plugin || !capabilitiesOf(plugin).includes(capabilityFor(parsed.data.operation))) {
      errors.push({ path: `${at}.operation`, message: `${instance.kind} does not support ${step.operation}` });
      continue;
    }
    const { operation: _operation, ...parameters } = parsed.data;
    const targetObject = parsed.data.operation === 'create_account' ? parsed.data.account.userName : parsed.data.userName;
    resolved.push({ ...base, target: { system: 'connector', connectorInstanceId: instance.id, connectorKind: instance.kind }, targetObject, parameters });
  }
  const wantedKeys = resolved.map((s) => s.idempotencyKey ?? `${planId}:${s.key}`);
  for (const taken of await takenIdempotencyKeys(db, tenantId, planId, wantedKeys)) {
    errors.push({ path: 'body.steps', message: `idempotency key ${taken} is used by another plan's step` });
  }
  if (errors.length > 0) throw new ApiError('validation_failed', 'The plan is not valid.', errors);
  return resolved;
}

/** Maps a refused callback to its problem, after recording the refusal. */
async function refuseCallback(db: Executor, tenantId: string, planId: string, stepKey: string, reason: 'forged' | 'replayed' | 'late' | 'early', requestId: string): Promise<never> {
  await appendAudit(db, {
    tenantId, actor: { kind: 'system', id: 'callback' }, action: 'plan.callback_refused', target: { kind: 'provisioning_plan', id: planId },
    details: { stepKey, reason }, requestId,
  });
  const code = ({ forged: 'callback_token_invalid', replayed: 'callback_token_used', late: 'callback_token_expired', early: 'callback_too_early' } as const)[reason];
  throw new ApiError(code);
}

const callbackBody = z.strictObject({
  token: z.string().min(1).max(2048),
  result: z.enum(['completed', 'failed']),
  /** Non-secret facts (ticket number, job id) appended to the step's evidence. */
  detail: z.record(z.string(), z.union([z.string().max(500), z.number(), z.boolean(), z.null()])).default({}),
}).meta({ id: 'StepCallback' });

/** The round a pending plan starts: the first (recorded as round 0 until it starts), or a claimed retry round. */
const pendingRound = (plan: Plan) => Math.max(plan.round, 1);

export const planRoutes = [
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/plans', tag: 'provisioning plans',
    summary: 'Create a provisioning plan (operator action) and execute it (202, then poll Location); idempotent on Idempotency-Key',
    permission: 'portal.plans.manage', tenantScoped: true, body: createBody, headers: idempotencyHeaders,
    responses: { 202: { description: 'Accepted: executing', schema: planSchema, headers: { Location: 'The plan' } } },
    handler: async ({ body, tenant, caller, deps, req, requestId, log }) => {
      const key = req.get('idempotency-key');
      const planId = key ? idFromKey(`plan:operator:${tenant.id}`, key) : newId();
      const location = `/v1/tenants/${tenant.id}/plans/${planId}`;
      const submission = key ? canonicalHash(body) : null;
      let plan = await getPlanSummary(deps.db, tenant.id, planId);
      let created = false;
      if (!plan) {
        const steps = await resolveSteps(deps.db, tenant.id, planId, body.steps);
        ({ plan, created } = await deps.db.transaction().execute((tx) => insertPlan(tx, {
          id: planId, tenantId: tenant.id, origin: { kind: 'operator', id: caller.tokenId }, reason: body.reason, createdBy: actorOf(caller), steps, requestId,
          submissionHash: submission,
        })));
      }
      // The key was used before (or by a concurrent create that recorded first): the same plan only if the
      // same body; plans recorded before submissions were kept are taken as the same.
      const recorded = key && !created ? await planSubmissionHash(deps.db, tenant.id, planId) : null;
      if (recorded !== null && recorded !== submission) {
        throw new ApiError('idempotency_key_reused', `The Idempotency-Key was used for plan ${planId}, which asked for something else.`);
      }
      // A repeated request starts the plan only if it never started: a plan that ran is never run again as a
      // first round, however long ago its run ended (an operator retries its failures with POST …/retry).
      if (plan.status === 'pending') {
        try {
          await startPlanRound(deps.temporal, { tenantId: tenant.id, planId, round: pendingRound(plan), origin: 'operator' });
        } catch (err) {
          log.error({ err, planId }, 'could not start plan execution');
          throw new ApiError('unavailable', `Plan ${planId} is recorded but the workflow engine is unavailable; start it with POST ${location}/retry${key ? ' or repeat this request with the same Idempotency-Key' : ''}.`);
        }
      }
      return { status: 202, body: present(plan), headers: { Location: location } };
    },
  }),

  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/plans', tag: 'provisioning plans', summary: 'List plans by origin, status or target (newest first)',
    permission: 'portal.plans.view', tenantScoped: true,
    query: z.strictObject({
      originKind: originKind.optional(), originId: z.string().min(1).max(200).optional(), status: planStatus.optional(),
      target: z.string().min(1).max(256).optional().meta({ description: 'A target object (userName, group:<id>...) or a connector instance id' }),
      ...pageQuery,
    }),
    responses: { 200: { description: 'A page of plans', schema: pageOf(planSchema) } },
    handler: async ({ query, tenant, deps }) => {
      const page = await listPlans(deps.db, tenant.id, query, query.cursor ?? null, query.limit);
      return { status: 200, body: { items: page.items.map(present), nextCursor: page.nextCursor } };
    },
  }),

  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/plans/:planId', tag: 'provisioning plans', summary: 'Read a plan with its steps and every piece of evidence',
    permission: 'portal.plans.view', tenantScoped: true, params: planParams,
    responses: { 200: { description: 'The plan', schema: planDetailSchema } },
    handler: async ({ params, tenant, deps }) => {
      const plan = await getPlan(deps.db, tenant.id, params.planId);
      if (!plan) throw new ApiError('not_found', `Plan ${params.planId} was not found.`);
      return { status: 200, body: presentDetail(plan) };
    },
  }),

  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/plans/:planId/export', tag: 'provisioning plans',
    summary: 'Export a plan with its evidence and audit trail (the trail needs portal.audit.view too) as one JSON document an auditor can verify (content hash)',
    permission: 'portal.plans.view', tenantScoped: true, params: planParams,
    responses: { 200: { description: 'The export', schema: z.record(z.string(), z.unknown()) } },
    handler: async ({ params, tenant, deps, caller }) => {
      const plan = await getPlan(deps.db, tenant.id, params.planId);
      if (!plan) throw new ApiError('not_found', `Plan ${params.planId} was not found.`);
      // The trail is the audit log's (who retried, which callbacks were refused): shown to those who may read
      // the audit log; without that permission the export says it is left out rather than showing it empty.
      const auditVisible = caller.permissions.has('portal.audit.view');
      const audit = auditVisible ? await listAllAudit(deps.db, tenant.id, { targetKind: 'provisioning_plan', targetId: plan.id }) : null;
      return {
        status: 200,
        headers: { 'Content-Disposition': `attachment; filename="plan-${plan.id}.json"` },
        body: {
          format: 'portal.provisioning-plan.export/v1',
          exportedAt: new Date().toISOString(),
          plan: { id: plan.id, workflowId: planWorkflowId(plan.id), createdAt: plan.createdAt, createdBy: plan.createdBy, content: planContent(plan), contentHash: plan.contentHash },
          hash: { algorithm: 'sha256', over: 'content, serialised as JSON with object keys sorted at every level' },
          status: { status: plan.status, round: plan.round, succeeded: plan.succeeded, failed: plan.failed },
          evidence: plan.evidence,
          audit,
          ...(auditVisible ? {} : { auditOmitted: 'The audit trail needs the portal.audit.view permission.' }),
        },
      };
    },
  }),

  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/plans/:planId/retry', tag: 'provisioning plans',
    summary: 'Run a plan\'s failed steps again (the same plan, a new round; what succeeded never runs twice)',
    permission: 'portal.plans.manage', tenantScoped: true, params: planParams,
    responses: { 202: { description: 'Accepted: the retry round is executing', schema: planSchema, headers: { Location: 'The plan' } } },
    handler: async ({ params, tenant, caller, deps, requestId, log }) => {
      const plan = await getPlanSummary(deps.db, tenant.id, params.planId);
      if (!plan) throw new ApiError('not_found', `Plan ${params.planId} was not found.`);
      if (plan.status === 'running') throw new ApiError('plan_running');
      if (plan.status === 'completed') throw new ApiError('plan_not_retryable', 'Every step of this plan succeeded.');
      // Completed with failures: claim the next round (one of two concurrent retries wins), with its audit
      // event. Pending: a round recorded but never started (the engine was away): start that round.
      let round = pendingRound(plan);
      if (plan.status === 'completed_with_failures') {
        round = plan.round + 1;
        const claimed = await deps.db.transaction().execute(async (tx) => {
          if (!(await claimRetryRound(tx, plan.id, plan.round))) return false;
          await appendAudit(tx, {
            tenantId: tenant.id, actor: actorOf(caller), action: 'plan.retry_requested', target: { kind: 'provisioning_plan', id: plan.id },
            details: { round, failed: plan.failed }, requestId,
          });
          return true;
        });
        if (!claimed) throw new ApiError('plan_running', 'Another retry of this plan has just been requested.');
      }
      try {
        await startPlanRound(deps.temporal, { tenantId: tenant.id, planId: plan.id, round, origin: plan.origin.kind });
      } catch (err) {
        // The round stays recorded as pending: a later retry starts it.
        if (err instanceof WorkflowExecutionAlreadyStartedError) throw new ApiError('plan_running', 'The previous round is still closing; retry in a moment.');
        log.error({ err, planId: plan.id, round }, 'could not start a plan round');
        throw new ApiError('unavailable', `Round ${round} of plan ${plan.id} is recorded but could not start; retry the request.`);
      }
      return { status: 202, body: present({ ...plan, status: 'running', round }), headers: { Location: `/v1/tenants/${tenant.id}/plans/${plan.id}` } };
    },
  }),

  defineRoute({
    method: 'post', path: '/v1/callbacks/plans/:planId/steps/:stepKey', tag: 'provisioning plans',
    summary: 'Complete a step awaiting a callback (a vendor job, a ticket, a person) with its signed single-use token',
    permission: null, tenantScoped: false, auth: 'callback_token',
    params: z.strictObject({ planId: uuid, stepKey }), body: callbackBody,
    responses: { 200: { description: 'Accepted: the step is completed', schema: z.object({ accepted: z.literal(true), stepKey: z.string() }) } },
    handler: async ({ params, body, deps, requestId, log }) => {
      // The signature is checked before anything is read: a caller without a token Portal signed learns
      // nothing (not even whether the plan exists) and writes nothing; the attempt is logged, not audited, so
      // anyone on the network cannot grow a tenant's audit trail. Refusals of tokens Portal did sign are audited.
      const claims = verifyCallbackToken(deps.secretKey, body.token);
      if (!claims) {
        log.warn({ planId: params.planId, stepKey: params.stepKey }, 'callback refused: token not signed by Portal');
        throw new ApiError('callback_token_invalid');
      }
      const plan = await deps.db.selectFrom('provisioning_plans').select(['id', 'tenant_id']).where('id', '=', claims.planId).executeTakeFirst();
      if (!plan) throw new ApiError('not_found', `Plan ${claims.planId} was not found.`);
      if (claims.planId !== params.planId || claims.stepKey !== params.stepKey) {
        return refuseCallback(deps.db, plan.tenant_id, plan.id, params.stepKey, 'forged', requestId);
      }
      const row = await deps.db.selectFrom('provisioning_callback_tokens').selectAll().where('id', '=', claims.tokenId).executeTakeFirst();
      if (!row || row.plan_id !== plan.id || row.step_key !== params.stepKey) return refuseCallback(deps.db, plan.tenant_id, plan.id, params.stepKey, 'forged', requestId);
      if (row.used_at) return refuseCallback(deps.db, plan.tenant_id, plan.id, params.stepKey, 'replayed', requestId);
      if (row.expires_at.getTime() <= Date.now()) return refuseCallback(deps.db, plan.tenant_id, plan.id, params.stepKey, 'late', requestId);
      try {
        await deps.temporal.client.workflow.getHandle(planWorkflowId(plan.id)).executeUpdate(stepCallbackUpdate, {
          args: [{ stepKey: params.stepKey, tokenId: claims.tokenId, result: body.result, detail: body.detail }],
        });
      } catch (err) {
        const cause = err instanceof WorkflowUpdateFailedError ? err.cause : null;
        if (cause instanceof ApplicationFailure && cause.type === FailureTypes.Refused) {
          const reason = cause.message === 'callback_replayed' ? 'replayed' : cause.message === 'callback_token_not_current' ? 'forged'
            : cause.message === 'step_not_awaiting_callback_yet' ? 'early' : 'late';
          return refuseCallback(deps.db, plan.tenant_id, plan.id, params.stepKey, reason, requestId);
        }
        if (err instanceof WorkflowNotFoundError) return refuseCallback(deps.db, plan.tenant_id, plan.id, params.stepKey, 'late', requestId);
        throw err;
      }
      await deps.db.transaction().execute(async (tx) => {
        await tx.updateTable('provisioning_callback_tokens').set({ used_at: new Date() }).where('id', '=', claims.tokenId).where('used_at', 'is', null).execute();
        await appendAudit(tx, {
          tenantId: plan.tenant_id, actor: { kind: 'system', id: 'callback' }, action: 'plan.callback_accepted', target: { kind: 'provisioning_plan', id: plan.id },
          details: { stepKey: params.stepKey, result: body.result }, requestId,
        });
      });
      return { status: 200, body: { accepted: true as const, stepKey: params.stepKey } };
    },
  }),
];
