import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { z } from 'zod';
import { appendAudit } from '../../db/repositories/audit';
import { missingCatalogIds } from '../../db/repositories/catalog';
import { currentTemplate, lockRecordedKickoff, putTemplate, templateVersion } from '../../db/repositories/hr';
import { idFromKey, newId } from '../../db/repositories/ids';
import { planWorkflowId } from '../../db/repositories/plans';
import { getPerson } from '../../db/repositories/people';
import type { lifecycle } from '../../workflows';
import { type LifecycleKickoff, lifecycleWorkflowId, type LifecycleRunStep, type LifecycleTemplateDefinition } from '../../workflows/lifecycle.types';
import { kickoffSignal } from '../../workflows/messages';
import { PortalPersonId, PortalTenantId } from '../../workflows/search-attributes';
import { actorOf } from '../context';
import { ApiError } from '../problems';
import { defineRoute } from '../route';
import { idempotencyHeaders, isoDate, uuid } from '../schemas';
import { collectEligibilityGroups, eligibilityRuleSchema } from './bundles';

const kindSchema = z.enum(['joiner', 'mover', 'leaver']);

const stepSchema = z.discriminatedUnion('type', [
  ...(['activate', 'grant_birthright', 'reconcile_birthright', 'disable', 'revoke_all_access', 'notify_manager', 'delete'] as const)
    .map((type) => z.strictObject({ type: z.literal(type) })),
  z.strictObject({ type: z.literal('wait'), seconds: z.int().min(1).max(10 * 366 * 24 * 3600) }),
] as unknown as [z.ZodObject, ...z.ZodObject[]]).meta({ id: 'LifecycleStep' });

/**
 * Step types repeated in a template's steps, as issues on the repeats. A run records each step type once and
 * does not run a type it has recorded (that is what makes a retried step safe), so a repeat would be skipped
 * without a word.
 */
function repeatedStepIssues(steps: readonly Record<string, unknown>[], ctx: z.RefinementCtx): void {
  steps.forEach((step, i) => {
    const first = steps.findIndex((s) => s.type === step.type);
    if (first < i) ctx.addIssue({ code: 'custom', path: [i, 'type'], message: `step type ${String(step.type)} repeats steps[${first}]; each step type may appear once` });
  });
}

const templateSchema = z.strictObject({
  steps: z.array(stepSchema).min(1).max(30).superRefine(repeatedStepIssues),
  birthright: z.array(z.strictObject({ bundleId: uuid, when: z.array(eligibilityRuleSchema).max(20) })).max(100).default([]),
}).meta({ id: 'LifecycleTemplate' });

const runSchema = z.object({
  id: uuid, kind: kindSchema, trigger: z.string(), hrEventId: z.string().nullable(), templateVersion: z.int().nullable(),
  status: z.string(), scheduledFor: isoDate.nullable(), reason: z.string().nullable(), steps: z.array(z.record(z.string(), z.unknown())),
  /** The provisioning plans the run's steps recorded (read each at /plans/:id). */
  plans: z.array(z.object({ id: uuid, workflowId: z.string(), status: z.string(), reason: z.string() })),
  createdAt: isoDate, updatedAt: isoDate,
}).meta({ id: 'LifecycleRun' });

const personParams = z.strictObject({ personId: uuid });

export const lifecycleRoutes = [
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/people/:personId/lifecycle', tag: 'lifecycle',
    summary: 'A person\'s lifecycle: current state, upcoming scheduled steps with dates, and the history of runs',
    permission: 'portal.lifecycle.view', tenantScoped: true, params: personParams,
    responses: { 200: { description: 'The lifecycle', schema: z.object({
      personId: uuid, status: z.string(), workflowId: z.string(),
      upcoming: z.array(z.object({ runId: uuid, kind: kindSchema, at: isoDate, steps: z.array(z.string()) })),
      runs: z.array(runSchema),
    }) } },
    handler: async ({ params, tenant, deps }) => {
      const person = await getPerson(deps.db, tenant.id, params.personId);
      if (!person) throw new ApiError('not_found', `Person ${params.personId} was not found.`);
      const rows = await deps.db.selectFrom('lifecycle_runs').selectAll().where('tenant_id', '=', tenant.id).where('person_id', '=', person.id)
        .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(200).execute();
      const upcoming: { runId: string; kind: 'joiner' | 'mover' | 'leaver'; at: Date; steps: string[] }[] = [];
      for (const r of rows) {
        const template = r.template_version === null ? (await currentTemplate(deps.db, tenant.id, r.kind)).definition
          : await templateVersion(deps.db, tenant.id, r.kind, r.template_version);
        const names = (template?.steps ?? []).map((s) => s.type);
        if (r.status === 'scheduled' && r.scheduled_for) upcoming.push({ runId: r.id, kind: r.kind, at: r.scheduled_for, steps: names });
        const last = r.steps[r.steps.length - 1] as LifecycleRunStep | undefined;
        if (r.status === 'running' && last?.step === 'wait' && typeof last.details.until === 'string') {
          upcoming.push({ runId: r.id, kind: r.kind, at: new Date(last.details.until), steps: names.slice(names.lastIndexOf('wait') + 1) });
        }
      }
      const plans = rows.length === 0 ? [] : await deps.db.selectFrom('provisioning_plans as p').innerJoin('provisioning_plan_status as s', 's.plan_id', 'p.id')
        .select(['p.id', 'p.origin_id', 'p.reason', 's.status']).where('p.tenant_id', '=', tenant.id).where('p.origin_kind', '=', 'lifecycle_run')
        .where('p.origin_id', 'in', rows.map((r) => r.id)).orderBy('p.created_at').execute();
      return {
        status: 200,
        body: {
          personId: person.id, status: person.status, workflowId: lifecycleWorkflowId(tenant.id, person.id),
          upcoming: upcoming.sort((a, b) => a.at.getTime() - b.at.getTime()),
          runs: rows.map((r) => ({
            id: r.id, kind: r.kind, trigger: r.trigger, hrEventId: r.hr_event_id, templateVersion: r.template_version, status: r.status,
            scheduledFor: r.scheduled_for, reason: r.reason, steps: r.steps, createdAt: r.created_at, updatedAt: r.updated_at,
            plans: plans.filter((p) => p.origin_id === r.id).map((p) => ({ id: p.id, workflowId: planWorkflowId(p.id), status: p.status, reason: p.reason })),
          })),
        },
      };
    },
  }),
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/people/:personId/lifecycle/kickoff', tag: 'lifecycle',
    summary: 'Start a joiner, mover or leaver run by hand, with a reason; idempotent on Idempotency-Key',
    permission: 'portal.lifecycle.manage', tenantScoped: true, params: personParams, headers: idempotencyHeaders,
    body: z.strictObject({ kind: kindSchema, reason: z.string().trim().min(1).max(2000) }).meta({ id: 'LifecycleKickoff' }),
    responses: { 202: { description: 'Accepted; the run appears in the lifecycle', schema: z.object({ runId: uuid, workflowId: z.string() }), headers: { Location: 'The lifecycle' } } },
    handler: async ({ params, body, caller, tenant, deps, requestId, req }) => {
      const person = await getPerson(deps.db, tenant.id, params.personId);
      if (!person) throw new ApiError('not_found', `Person ${params.personId} was not found.`);
      const key = req.get('idempotency-key');
      const runId = key ? idFromKey(`lifecycle-kickoff:${tenant.id}:${person.id}`, key) : newId();
      const workflowId = lifecycleWorkflowId(tenant.id, person.id);
      const accepted = { status: 202, body: { runId, workflowId }, headers: { Location: `/v1/tenants/${tenant.id}/people/${person.id}/lifecycle` } };
      // The signal and its audit event commit together under the run id's lock: a retry (the same key) finds the
      // kickoff recorded and answers as the first time without signalling again; a failed signal records nothing.
      // The transaction waits on one signal call: kickoffs are rare and by hand.
      await deps.db.transaction().execute(async (tx) => {
        const recorded = await lockRecordedKickoff(tx, tenant.id, runId);
        if (recorded) {
          if (recorded.kind !== body.kind || recorded.reason !== body.reason) {
            throw new ApiError('conflict', 'The Idempotency-Key was used for another kickoff of this person.');
          }
          return;
        }
        const kickoff: LifecycleKickoff = { kind: body.kind, reason: body.reason, runId, actor: actorOf(caller) };
        await deps.temporal.client.workflow.signalWithStart<typeof lifecycle, [LifecycleKickoff]>('lifecycle', {
          workflowId, taskQueue: deps.temporal.taskQueue, args: [{ tenantId: tenant.id, personId: person.id }],
          signal: kickoffSignal, signalArgs: [kickoff], workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          typedSearchAttributes: [{ key: PortalTenantId, value: tenant.id }, { key: PortalPersonId, value: person.id }],
        }).catch((err) => {
          deps.logger.error({ err, workflowId }, 'could not kick off lifecycle run');
          throw new ApiError('unavailable', 'The workflow engine is unavailable; nothing was started.');
        });
        await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: 'lifecycle.kickoff', target: { kind: 'person', id: person.id }, details: { kind: body.kind, reason: body.reason, runId }, requestId });
      });
      return accepted;
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/lifecycle/templates/:kind', tag: 'lifecycle',
    summary: 'The current joiner, mover or leaver template (version 0 is the built-in default)',
    permission: 'portal.lifecycle.view', tenantScoped: true, params: z.strictObject({ kind: kindSchema }),
    responses: { 200: { description: 'The template', schema: z.object({ kind: kindSchema, version: z.int(), definition: templateSchema }) } },
    handler: async ({ params, tenant, deps }) => ({ status: 200, body: { kind: params.kind, ...(await currentTemplate(deps.db, tenant.id, params.kind)) } }),
  }),
  defineRoute({
    method: 'put', path: '/v1/tenants/:tenantId/lifecycle/templates/:kind', tag: 'lifecycle',
    summary: 'Store a new version of a template; runs already started keep theirs',
    permission: 'portal.lifecycle.manage', tenantScoped: true, params: z.strictObject({ kind: kindSchema }), body: templateSchema,
    responses: { 200: { description: 'The new current template', schema: z.object({ kind: kindSchema, version: z.int(), definition: templateSchema }) } },
    handler: async ({ params, body, caller, tenant, deps, requestId }) => {
      const definition = body as LifecycleTemplateDefinition;
      const missing = definition.birthright.length === 0 ? [] : await deps.db.selectFrom('access_bundles').select('id')
        .where('tenant_id', '=', tenant.id).where('id', 'in', definition.birthright.map((b) => b.bundleId)).execute()
        .then((found) => definition.birthright.map((b, i) => [b.bundleId, i] as const).filter(([id]) => !found.some((f) => f.id === id)));
      // A rule naming a group that is not here would never match: nobody would get that birthright.
      const groups = new Map<string, string>();
      definition.birthright.forEach((b, i) => collectEligibilityGroups(b.when, `body.birthright[${i}].when`, groups));
      const missingGroups = await missingCatalogIds(deps.db, 'groups', tenant.id, [...groups.keys()]);
      if (missing.length > 0 || missingGroups.length > 0) {
        throw new ApiError('reference_not_found', 'Birthright rules name bundles or groups that do not exist here.', [
          ...missing.map(([id, i]) => ({ path: `body.birthright[${i}].bundleId`, message: `no bundle ${id}` })),
          ...missingGroups.map((id) => ({ path: groups.get(id) as string, message: `no group ${id} in this tenant` })),
        ]);
      }
      const version = await deps.db.transaction().execute(async (tx) => {
        const v = await putTemplate(tx, tenant.id, params.kind, definition, caller.tokenId);
        await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: 'lifecycle.template_updated', target: { kind: 'lifecycle_template', id: params.kind }, details: { version: v }, requestId });
        return v;
      });
      return { status: 200, body: { kind: params.kind, version, definition } };
    },
  }),
];
