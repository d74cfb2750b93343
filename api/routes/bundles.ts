import { z } from 'zod';
import { BundleNameTakenError, createBundle, eligibilityFacts, getBundle, listBundles, type AccessBundle, updateBundle } from '../../db/repositories/access-bundles';
import { appendAudit } from '../../db/repositories/audit';
import { type CatalogTable, missingCatalogIds } from '../../db/repositories/catalog';
import type { Executor } from '../../db/database';
import { missingPersonIds } from '../../db/repositories/people';
import { capabilitiesOf } from '../../connectors/capabilities';
import { connectorPlugin } from '../../connectors/registry';
import { getConnectorInstance } from '../../db/repositories/connector-instances';
import { type BundleDefinition, type EligibilityRule, evaluateEligibility, isNativeItem } from '../../workflows/access-policy';
import { actorOf, type Caller } from '../context';
import { ApiError, type FieldError } from '../problems';
import { defineRoute } from '../route';
import { description, name, pageOf, pageQuery, uuid } from '../schemas';

const approverSpec = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('person'), personId: uuid }),
  z.strictObject({ type: z.literal('group'), groupId: uuid }),
  z.strictObject({ type: z.literal('manager') }),
  z.strictObject({ type: z.literal('bundle_owner') }),
]).meta({ id: 'ApproverSpec' });

const quorum = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('count'), count: z.int().min(1).max(100) }),
  z.strictObject({ type: z.literal('all') }),
]).meta({ id: 'Quorum', description: 'M of the resolved approvers, or all of them' });

const seconds = z.int().min(1).max(366 * 24 * 3600);

const stageSchema = z.strictObject({
  name,
  approvers: z.array(approverSpec).min(1).max(20),
  quorum,
  timeout: z.strictObject({
    afterSeconds: seconds,
    action: z.enum(['expire', 'escalate']),
    escalateTo: z.array(approverSpec).min(1).max(20).optional(),
    escalationQuorum: quorum.optional(),
    escalationAfterSeconds: seconds.optional(),
  }).refine((t) => t.action !== 'escalate' || t.escalateTo !== undefined, { message: 'escalate needs escalateTo', path: ['escalateTo'] }),
}).refine((s) => s.quorum.type !== 'count' || !s.approvers.every((a) => a.type === 'person')
  || s.quorum.count <= new Set(s.approvers.map((a) => (a as { personId: string }).personId)).size,
{ message: 'the quorum is larger than the named approvers', path: ['quorum'] });

export const eligibilityRuleSchema: z.ZodType<EligibilityRule> = z.lazy(() => z.union([
  z.strictObject({ type: z.literal('attribute'), attribute: z.string().min(1).max(64), operator: z.enum(['equals', 'not_equals']), value: z.union([z.string(), z.number(), z.boolean()]) }),
  z.strictObject({ type: z.literal('attribute'), attribute: z.string().min(1).max(64), operator: z.literal('in'), values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1).max(100) }),
  z.strictObject({ type: z.literal('group_member'), groupId: uuid }),
  z.strictObject({ type: z.literal('any'), rules: z.array(eligibilityRuleSchema).min(1).max(20) }),
]));

export const bundleDefinitionSchema = z.strictObject({
  name,
  description,
  ownerPersonId: uuid,
  items: z.array(z.union([
    z.strictObject({ kind: z.enum(['role', 'group', 'application']), id: uuid }),
    // A downstream target through a connector instance (`id`): the vendor group or assignment `ref`.
    z.strictObject({ kind: z.enum(['connector_group', 'connector_assignment']), id: uuid, ref: z.string().min(1).max(256) }),
  ])).min(1).max(50),
  maxDurationSeconds: seconds.nullable().optional(),
  eligibility: z.array(eligibilityRuleSchema).max(20).default([]),
  policy: z.strictObject({ stages: z.array(stageSchema).min(1).max(10), approverOncePerRequest: z.boolean().default(false) }),
}).meta({ id: 'BundleDefinition' });

const bundleSchema = z.object({
  id: uuid, tenantId: uuid, version: z.int(), definition: z.record(z.string(), z.unknown()), createdAt: z.string(), updatedAt: z.string(),
}).meta({ id: 'AccessBundle' });

function normalise(body: z.output<typeof bundleDefinitionSchema>): BundleDefinition {
  return {
    ...body, description: body.description ?? null, maxDurationSeconds: body.maxDurationSeconds ?? null,
    policy: { stages: body.policy.stages, approverOncePerRequest: body.policy.approverOncePerRequest },
  };
}

/** Adds the groups eligibility rules name (nested `any` rules too) to `into`, by id, with each one's path. */
export function collectEligibilityGroups(rules: readonly EligibilityRule[], path: string, into: Map<string, string>): void {
  rules.forEach((r, i) => {
    if (r.type === 'group_member') into.set(r.groupId, `${path}[${i}].groupId`);
    if (r.type === 'any') collectEligibilityGroups(r.rules, `${path}[${i}].rules`, into);
  });
}

/** Every reference of a definition that does not resolve in the tenant. */
async function referenceErrors(db: Executor, tenantId: string, def: BundleDefinition): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const people = new Map<string, string>([[def.ownerPersonId, 'body.ownerPersonId']]);
  const groups = new Map<string, string>();
  const tables: Record<string, CatalogTable> = { role: 'roles', group: 'groups', application: 'applications' };
  for (const [i, item] of def.items.entries()) {
    if (!isNativeItem(item)) {
      const instance = await getConnectorInstance(db, tenantId, item.id);
      const plugin = instance ? connectorPlugin(instance.kind) : null;
      if (!instance || !plugin) errors.push({ path: `body.items[${i}].id`, message: `no connector ${item.id} in this tenant` });
      else if (!capabilitiesOf(plugin).includes(item.kind === 'connector_group' ? 'group_membership' : 'assignments')) {
        errors.push({ path: `body.items[${i}].kind`, message: `${instance.kind} does not support ${item.kind}` });
      }
      continue;
    }
    if ((await missingCatalogIds(db, tables[item.kind] as CatalogTable, tenantId, [item.id])).length > 0) {
      errors.push({ path: `body.items[${i}].id`, message: `no ${item.kind} ${item.id} in this tenant` });
    }
  }
  def.policy.stages.forEach((stage, s) => {
    const specs = [...stage.approvers.map((a, i) => [a, `body.policy.stages[${s}].approvers[${i}]`] as const),
      ...(stage.timeout.escalateTo ?? []).map((a, i) => [a, `body.policy.stages[${s}].timeout.escalateTo[${i}]`] as const)];
    for (const [a, path] of specs) {
      if (a.type === 'person') people.set(a.personId, `${path}.personId`);
      if (a.type === 'group') groups.set(a.groupId, `${path}.groupId`);
    }
  });
  collectEligibilityGroups(def.eligibility, 'body.eligibility', groups);
  for (const id of await missingPersonIds(db, tenantId, [...people.keys()])) errors.push({ path: people.get(id) as string, message: `no person ${id} in this tenant` });
  for (const id of await missingCatalogIds(db, 'groups', tenantId, [...groups.keys()])) errors.push({ path: groups.get(id) as string, message: `no group ${id} in this tenant` });
  return errors;
}

async function requireValidReferences(db: Executor, tenantId: string, def: BundleDefinition) {
  const errors = await referenceErrors(db, tenantId, def);
  if (errors.length > 0) throw new ApiError('reference_not_found', 'The bundle names people, groups or targets that do not exist in this tenant.', errors);
}

const bundleParams = z.strictObject({ bundleId: uuid });

/** The person a catalog or request is for: the named one (needing submit_for_others) or the caller's own. */
export function beneficiaryOf(caller: Caller, named: string | undefined): string {
  const personId = named ?? caller.personId;
  if (!personId) throw new ApiError('person_required', 'Name a personId, or use a token that acts as a person.');
  if (personId !== caller.personId && !caller.permissions.has('portal.requests.submit_for_others')) {
    throw new ApiError('forbidden', 'Acting for someone else needs the portal.requests.submit_for_others permission.');
  }
  return personId;
}

export const bundleRoutes = [
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/bundles', tag: 'access requests', summary: 'Define an access bundle (version 1)',
    permission: 'portal.bundles.manage', tenantScoped: true, body: bundleDefinitionSchema,
    responses: { 201: { description: 'Created', schema: bundleSchema, headers: { Location: 'The bundle' } } },
    handler: async ({ body, caller, tenant, deps, requestId }) => {
      const definition = normalise(body);
      await requireValidReferences(deps.db, tenant.id, definition);
      const bundle = await deps.db.transaction().execute(async (tx) => {
        const created = await createBundle(tx, { tenantId: tenant.id, definition, createdBy: caller.tokenId });
        if (!created) throw new ApiError('name_taken', `A bundle named ${JSON.stringify(definition.name)} exists.`);
        await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: 'bundle.created', target: { kind: 'bundle', id: created.id }, details: { name: definition.name, version: 1 }, requestId });
        return created;
      });
      return { status: 201, body: bundle, headers: { Location: `/v1/tenants/${tenant.id}/bundles/${bundle.id}` } };
    },
  }),
  defineRoute({
    method: 'put', path: '/v1/tenants/:tenantId/bundles/:bundleId', tag: 'access requests',
    summary: 'Replace a bundle definition: a new version; pending requests keep theirs; an identical definition changes nothing',
    permission: 'portal.bundles.manage', tenantScoped: true, params: bundleParams, body: bundleDefinitionSchema,
    responses: { 200: { description: 'The bundle at its current version', schema: bundleSchema } },
    handler: async ({ params, body, caller, tenant, deps, requestId }) => {
      const definition = normalise(body);
      if (!(await getBundle(deps.db, tenant.id, params.bundleId))) throw new ApiError('not_found', `Bundle ${params.bundleId} was not found.`);
      await requireValidReferences(deps.db, tenant.id, definition);
      const result = await deps.db.transaction().execute(async (tx) => {
        try {
          const updated = await updateBundle(tx, { tenantId: tenant.id, bundleId: params.bundleId, definition, createdBy: caller.tokenId });
          if (!updated) throw new ApiError('not_found', `Bundle ${params.bundleId} was not found.`);
          if (updated.changed) {
            await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: 'bundle.updated', target: { kind: 'bundle', id: params.bundleId }, details: { name: definition.name, version: updated.bundle.version }, requestId });
          }
          return updated.bundle;
        } catch (err) {
          if (err instanceof BundleNameTakenError) throw new ApiError('name_taken', `A bundle named ${JSON.stringify(definition.name)} exists.`);
          throw err;
        }
      });
      return { status: 200, body: result };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/bundles', tag: 'access requests', summary: 'List bundles at their current versions',
    permission: 'portal.bundles.view', tenantScoped: true, query: z.strictObject(pageQuery),
    responses: { 200: { description: 'A page of bundles', schema: pageOf(bundleSchema) } },
    handler: async ({ query, tenant, deps }) => ({ status: 200, body: await listBundles(deps.db, tenant.id, query.cursor ?? null, query.limit) }),
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/bundles/:bundleId', tag: 'access requests', summary: 'Read a bundle (current version, or ?version=N)',
    permission: 'portal.bundles.view', tenantScoped: true, params: bundleParams, query: z.strictObject({ version: z.coerce.number().int().min(1).optional() }),
    responses: { 200: { description: 'The bundle', schema: bundleSchema } },
    handler: async ({ params, query, tenant, deps }) => {
      const bundle = await getBundle(deps.db, tenant.id, params.bundleId, query.version);
      if (!bundle) throw new ApiError('not_found', `Bundle ${params.bundleId}${query.version ? ` version ${query.version}` : ''} was not found.`);
      return { status: 200, body: bundle };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/catalog', tag: 'access requests',
    summary: 'The bundles a person may request (the caller\'s own person by default)',
    permission: 'portal.requests.submit', tenantScoped: true, query: z.strictObject({ personId: uuid.optional() }),
    responses: { 200: { description: 'Requestable bundles', schema: z.object({ personId: uuid, items: z.array(bundleSchema) }) } },
    handler: async ({ query, caller, tenant, deps }) => {
      const personId = beneficiaryOf(caller, query.personId);
      if ((await missingPersonIds(deps.db, tenant.id, [personId])).length > 0) throw new ApiError('not_found', `Person ${personId} was not found.`);
      const facts = await eligibilityFacts(deps.db, tenant.id, personId);
      const items: AccessBundle[] = [];
      let cursor: string | null = null;
      do {
        const page = await listBundles(deps.db, tenant.id, cursor, 200);
        items.push(...page.items.filter((b) => evaluateEligibility(b.definition.eligibility, facts).eligible));
        cursor = page.nextCursor;
      } while (cursor);
      return { status: 200, body: { personId, items } };
    },
  }),
];
