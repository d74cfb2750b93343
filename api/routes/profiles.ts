import { z } from 'zod';
import { appendAudit } from '../../db/repositories/audit';
import { getPerson, missingPersonIds } from '../../db/repositories/people';
import {
  countAttributeHolders, createCustomAttribute, type CustomAttribute, deleteCustomAttribute, getCustomAttribute, getSourcePrecedence,
  listCustomAttributes, replaceSourcePrecedence, updateCustomAttribute,
} from '../../db/repositories/profile-attributes';
import {
  applyProfileObservation, getIdentityProfile, getResolutionIssue, IssueAlreadyResolvedError, listProfileHistory, listResolutionIssues,
  resolveIssue, type ResolutionChoice, ResolutionValueError,
} from '../../db/repositories/profiles';
import {
  ATTRIBUTE_KEY_PATTERN, attributeSpecs, AttributeTypes, type CustomAttributeDefinition, DefaultSourcePrecedence, EMAILS_ATTRIBUTE,
  EmailsMutability, EmailTypes, isReservedAttributeKey, isValidPattern, Mutabilities, ProfileSources, validateEmails, validateProfileValues,
} from '../../workflows/profile-schema';
import { actorOf, type Caller } from '../context';
import { ApiError, type FieldError } from '../problems';
import { defineRoute, type RouteContext } from '../route';
import { description, isoDate, name, pageOf, pageQuery, profileSchema, uuid } from '../schemas';

const source = z.enum(ProfileSources);
const attributeKey = z.string().regex(ATTRIBUTE_KEY_PATTERN, 'attribute names are letters, digits and _');

const emailSchema = z.strictObject({ type: z.enum(EmailTypes), value: z.string().max(320), primary: z.boolean() }).meta({ id: 'ProfileEmail' });

const provenanceSchema = z.object({
  value: z.unknown(), source, sourceRecordId: z.string(), observedAt: isoDate, previousValue: z.unknown(),
  resolutionIssueId: uuid.nullable(), updatedAt: isoDate,
}).meta({ id: 'AttributeProvenance' });

const identityProfileSchema = z.object({
  tenantId: uuid, personId: uuid, values: profileSchema, emails: z.array(emailSchema),
  provenance: z.record(z.string(), provenanceSchema), openIssueIds: z.array(uuid),
}).meta({ id: 'IdentityProfile' });

const applyResultSchema = z.object({
  applied: z.array(z.string()), unchanged: z.array(z.string()), issuesOpened: z.array(uuid),
  rejected: z.array(z.object({ attribute: z.string(), reason: z.string() })),
  changes: z.array(z.object({ attribute: z.string(), from: z.unknown(), to: z.unknown() })),
}).meta({ id: 'ProfileApplyResult' });

const editBody = z.strictObject({
  values: profileSchema.optional(),
  emails: z.array(emailSchema).max(20).optional().meta({ description: 'The complete list; exactly one primary when not empty' }),
}).refine((b) => b.values !== undefined || b.emails !== undefined, 'give values, emails or both').meta({ id: 'ProfileEdit' });

const personParams = z.strictObject({ personId: uuid });

/**
 * Writes a manual edit (an administrator's, or a person's own) through the same precedence rules as every
 * source. Refuses, changing nothing: attributes the caller may not edit, invalid values, references that
 * do not resolve.
 */
async function editProfile(
  ctx: Pick<RouteContext<never, never, never>, 'tenant' | 'deps' | 'requestId' | 'caller'>, personId: string,
  body: z.output<typeof editBody>, mode: 'admin' | 'self',
) {
  const { tenant, deps, requestId, caller } = ctx;
  const person = await getPerson(deps.db, tenant.id, personId);
  if (!person) throw new ApiError('not_found', `Person ${personId} was not found.`);
  const customs = await listCustomAttributes(deps.db, tenant.id);
  const specs = attributeSpecs(customs);
  const values = body.values ?? {};

  const refused: FieldError[] = [];
  for (const key of Object.keys(values)) {
    const spec = specs.get(key);
    if (!spec) continue;
    if (mode === 'admin' && spec.mutability === 'source_only') refused.push({ path: `body.values.${key}`, message: 'is written only by its sources' });
    if (mode === 'self' && spec.mutability !== 'self_editable') refused.push({ path: `body.values.${key}`, message: 'is not self-editable' });
  }
  if (body.emails !== undefined && mode === 'self' && EmailsMutability !== 'self_editable') refused.push({ path: 'body.emails', message: 'is not self-editable' });
  if (refused.length > 0) {
    throw new ApiError(mode === 'admin' ? 'attribute_read_only' : 'attribute_not_self_editable', 'The request edits attributes the caller may not edit; nothing was changed.', refused);
  }

  const checked = validateProfileValues(values, customs);
  const errors: FieldError[] = checked.errors.map((e) => ({ path: `body.values.${e.attribute}`, message: e.reason }));
  if (body.emails !== undefined) errors.push(...validateEmails(body.emails).errors.map((e) => ({ path: `body.${e.attribute}`, message: e.reason })));
  if (checked.values.manager === personId) errors.push({ path: 'body.values.manager', message: 'a person cannot be their own manager' });
  if (errors.length > 0) throw new ApiError('validation_failed', 'Some profile values are not valid; nothing was changed.', errors);

  const references = Object.entries(checked.values).filter(([k, v]) => specs.get(k)?.type === 'reference' && typeof v === 'string') as [string, string][];
  const missing = new Set(await missingPersonIds(deps.db, tenant.id, references.map(([, v]) => v)));
  const unresolved = references.filter(([, v]) => missing.has(v));
  if (unresolved.length > 0) {
    throw new ApiError('reference_not_found', 'Some references do not name a person of this tenant.',
      unresolved.map(([k, v]) => ({ path: `body.values.${k}`, message: `${v} is not a person of this tenant` })));
  }

  const result = await deps.db.transaction().execute((tx) => applyProfileObservation(tx, {
    tenantId: tenant.id, personId, source: 'manual', sourceRecordId: `api-request:${requestId}`, observedAt: new Date(),
    values: checked.values, ...(body.emails !== undefined ? { emails: body.emails } : {}), actor: actorOf(caller), requestId,
  }));
  return { status: 200, body: { profile: await getIdentityProfile(deps.db, tenant.id, personId), result } };
}

function selfOf(caller: Caller): string {
  if (!caller.personId) throw new ApiError('person_required', 'One\'s own profile needs a token that acts as a person.');
  return caller.personId;
}

const customAttributeSchema = z.object({
  id: uuid, tenantId: uuid, key: z.string(), label: z.string(), type: z.enum(AttributeTypes), required: z.boolean(),
  mutability: z.enum(Mutabilities), enumValues: z.array(z.string()).nullable(), pattern: z.string().nullable(),
  min: z.number().nullable(), max: z.number().nullable(), description: z.string().nullable(), createdAt: isoDate, updatedAt: isoDate,
}).meta({ id: 'CustomAttribute' });

const definitionFields = {
  label: name,
  required: z.boolean(),
  mutability: z.enum(Mutabilities),
  enumValues: z.array(z.string().trim().min(1).max(200)).min(1).max(200).nullable(),
  pattern: z.string().min(1).max(500).nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  description,
};

const createAttributeBody = z.strictObject({
  key: attributeKey, type: z.enum(AttributeTypes), label: name,
  required: definitionFields.required.default(false), mutability: definitionFields.mutability.default('admin_editable'),
  enumValues: definitionFields.enumValues.optional(), pattern: definitionFields.pattern.optional(),
  min: definitionFields.min.optional(), max: definitionFields.max.optional(), description,
}).meta({ id: 'CreateCustomAttribute' });

const updateAttributeBody = z.strictObject({
  label: name.optional(), required: definitionFields.required.optional(), mutability: definitionFields.mutability.optional(),
  enumValues: definitionFields.enumValues.optional(), pattern: definitionFields.pattern.optional(),
  min: definitionFields.min.optional(), max: definitionFields.max.optional(), description,
}).meta({ id: 'UpdateCustomAttribute', description: 'The key and type of an attribute never change' });

/** The rules a definition must follow beyond its schema, each broken one named. */
function definitionErrors(d: Omit<CustomAttributeDefinition, 'id'>): FieldError[] {
  const errors: FieldError[] = [];
  if (isReservedAttributeKey(d.key)) errors.push({ path: 'body.key', message: 'is a built-in profile attribute' });
  if (d.type === 'enum' && !d.enumValues) errors.push({ path: 'body.enumValues', message: 'an enum attribute needs its values' });
  if (d.type !== 'enum' && d.enumValues) errors.push({ path: 'body.enumValues', message: 'only enum attributes have values' });
  if (d.enumValues && new Set(d.enumValues).size !== d.enumValues.length) errors.push({ path: 'body.enumValues', message: 'values must be distinct' });
  if (d.pattern !== null && d.type !== 'string') errors.push({ path: 'body.pattern', message: 'only string attributes have a pattern' });
  if (d.pattern !== null && !isValidPattern(d.pattern)) errors.push({ path: 'body.pattern', message: 'is not a valid regular expression' });
  if ((d.min !== null || d.max !== null) && d.type !== 'string' && d.type !== 'number') errors.push({ path: 'body.min', message: 'only string (length) and number attributes have bounds' });
  if (d.type === 'string' && [d.min, d.max].some((b) => b !== null && (!Number.isInteger(b) || b < 0))) errors.push({ path: 'body.min', message: 'string length bounds are whole numbers from 0' });
  if (d.min !== null && d.max !== null && d.min > d.max) errors.push({ path: 'body.max', message: 'must be at least min' });
  return errors;
}

function definitionDetails(a: CustomAttribute) {
  return { key: a.key, type: a.type, required: a.required, mutability: a.mutability };
}

const order = z.array(source).length(ProfileSources.length).refine((o) => new Set(o).size === o.length, 'name each source exactly once')
  .meta({ description: 'Every source once, highest precedence first' });

const precedenceSchema = z.object({
  default: z.array(source), defaultIsCustom: z.boolean(), builtInDefault: z.array(source), attributes: z.record(z.string(), z.array(source)),
}).meta({ id: 'SourcePrecedence' });

const precedenceBody = z.strictObject({
  default: order.nullable().optional().meta({ description: 'The tenant default; null or absent restores the built-in one' }),
  attributes: z.record(attributeKey, order).default({}).refine((a) => Object.keys(a).length <= 200, 'at most 200 attributes'),
}).meta({ id: 'SetSourcePrecedence', description: 'Replaces the whole configuration' });

const issueSchema = z.object({
  id: uuid, tenantId: uuid, personId: uuid, attribute: z.string(), kind: z.enum(['source_conflict', 'unresolved_reference']),
  status: z.enum(['open', 'resolved']),
  current: z.object({ value: z.unknown(), source: source.nullable(), sourceRecordId: z.string().nullable(), observedAt: isoDate.nullable() }),
  candidates: z.array(z.object({ source, sourceRecordId: z.string(), observedAt: isoDate, value: z.unknown() })),
  resolution: z.object({
    choice: z.enum(['candidate', 'manual_value', 'keep_current', 'superseded']), value: z.unknown(), source: source.nullable(),
    comment: z.string().nullable(), actor: z.object({ kind: z.string(), id: z.string() }),
  }).nullable(),
  openedAt: isoDate, updatedAt: isoDate, resolvedAt: isoDate.nullable(),
}).meta({ id: 'ResolutionIssue' });

const comment = z.string().trim().min(1).max(2000).optional();
const resolveBody = z.union([
  z.strictObject({ candidate: z.int().min(0).max(100), comment }),
  z.strictObject({ value: z.union([z.string().max(1000), z.number(), z.boolean(), z.null(), z.array(emailSchema).max(20)]), comment }),
  z.strictObject({ keepCurrent: z.literal(true), comment }),
]).meta({ id: 'ResolveIssue', description: 'Exactly one of: a candidate index, a value, or keepCurrent' });

const historySchema = z.object({
  id: z.string(), attribute: z.string(), outcome: z.enum(['applied', 'confirmed', 'conflict', 'unresolved_reference', 'resolved']),
  value: z.unknown(), previousValue: z.unknown(), source, sourceRecordId: z.string(), observedAt: isoDate, issueId: uuid.nullable(),
  actor: z.object({ kind: z.string(), id: z.string() }), requestId: z.string().nullable(), recordedAt: isoDate,
}).meta({ id: 'ProfileHistoryEntry' });

export const profileRoutes = [
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/people/:personId/profile', tag: 'profiles',
    summary: 'Read a person\'s identity profile: values, emails and per-attribute provenance',
    permission: 'portal.profiles.view', tenantScoped: true, params: personParams,
    responses: { 200: { description: 'The profile', schema: identityProfileSchema } },
    handler: async ({ params, tenant, deps }) => {
      const profile = await getIdentityProfile(deps.db, tenant.id, params.personId);
      if (!profile) throw new ApiError('not_found', `Person ${params.personId} has no profile in this tenant.`);
      return { status: 200, body: profile };
    },
  }),
  defineRoute({
    method: 'patch', path: '/v1/tenants/:tenantId/people/:personId/profile', tag: 'profiles',
    summary: 'Edit a profile as an administrator (source manual; source_only attributes refused; precedence applies)',
    permission: 'portal.profiles.manage', tenantScoped: true, params: personParams, body: editBody,
    responses: { 200: { description: 'The profile and what the edit did', schema: z.object({ profile: identityProfileSchema, result: applyResultSchema }) } },
    handler: async (ctx) => editProfile(ctx, ctx.params.personId, ctx.body, 'admin'),
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/people/:personId/profile/history', tag: 'profiles',
    summary: 'A person\'s profile history: every applied value, confirmation, disagreement and resolution',
    permission: 'portal.profiles.view', tenantScoped: true, params: personParams,
    query: z.strictObject({ ...pageQuery, attribute: attributeKey.optional() }),
    responses: { 200: { description: 'A page of history entries', schema: pageOf(historySchema) } },
    handler: async ({ params, query, tenant, deps }) => {
      if (!(await getPerson(deps.db, tenant.id, params.personId))) throw new ApiError('not_found', `Person ${params.personId} was not found.`);
      return { status: 200, body: await listProfileHistory(deps.db, tenant.id, params.personId, { attribute: query.attribute }, query.cursor ?? null, query.limit) };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/me/profile', tag: 'profiles', summary: 'Read one\'s own identity profile (a token acting as a person)',
    permission: 'portal.profiles.self_edit', tenantScoped: true,
    responses: { 200: { description: 'The profile', schema: identityProfileSchema } },
    handler: async ({ caller, tenant, deps }) => {
      const profile = await getIdentityProfile(deps.db, tenant.id, selfOf(caller));
      if (!profile) throw new ApiError('not_found', 'The caller has no profile in this tenant.');
      return { status: 200, body: profile };
    },
  }),
  defineRoute({
    method: 'patch', path: '/v1/tenants/:tenantId/me/profile', tag: 'profiles',
    summary: 'Edit one\'s own profile: only self_editable attributes (source manual; precedence applies)',
    permission: 'portal.profiles.self_edit', tenantScoped: true, body: editBody,
    responses: { 200: { description: 'The profile and what the edit did', schema: z.object({ profile: identityProfileSchema, result: applyResultSchema }) } },
    handler: async (ctx) => editProfile(ctx, selfOf(ctx.caller), ctx.body, 'self'),
  }),

  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/profile-attributes', tag: 'profiles', summary: 'List the tenant\'s custom profile attributes',
    permission: 'portal.profiles.view', tenantScoped: true,
    responses: { 200: { description: 'Every custom attribute, by key', schema: z.object({ items: z.array(customAttributeSchema) }) } },
    handler: async ({ tenant, deps }) => ({ status: 200, body: { items: await listCustomAttributes(deps.db, tenant.id) } }),
  }),
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/profile-attributes', tag: 'profiles', summary: 'Define a custom profile attribute',
    permission: 'portal.profiles.manage', tenantScoped: true, body: createAttributeBody,
    responses: { 201: { description: 'Defined', schema: customAttributeSchema } },
    handler: async ({ body, caller, tenant, deps, requestId }) => {
      const input = {
        key: body.key, label: body.label, type: body.type, required: body.required, mutability: body.mutability,
        enumValues: body.enumValues ?? null, pattern: body.pattern ?? null, min: body.min ?? null, max: body.max ?? null, description: body.description ?? null,
      };
      const errors = definitionErrors(input);
      if (errors.length > 0) throw new ApiError('validation_failed', 'The attribute definition is not valid.', errors);
      const created = await deps.db.transaction().execute(async (tx) => {
        const attribute = await createCustomAttribute(tx, tenant.id, input);
        if (!attribute) throw new ApiError('name_taken', `An attribute with key ${body.key} exists.`);
        await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: 'profile.attribute_defined', target: { kind: 'profile_attribute', id: attribute.id }, details: definitionDetails(attribute), requestId });
        return attribute;
      });
      return { status: 201, body: created, headers: { Location: `/v1/tenants/${tenant.id}/profile-attributes/${created.id}` } };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/profile-attributes/:attributeId', tag: 'profiles', summary: 'Read a custom profile attribute',
    permission: 'portal.profiles.view', tenantScoped: true, params: z.strictObject({ attributeId: uuid }),
    responses: { 200: { description: 'The attribute', schema: customAttributeSchema } },
    handler: async ({ params, tenant, deps }) => {
      const attribute = await getCustomAttribute(deps.db, tenant.id, params.attributeId);
      if (!attribute) throw new ApiError('not_found', `Attribute ${params.attributeId} was not found.`);
      return { status: 200, body: attribute };
    },
  }),
  defineRoute({
    method: 'patch', path: '/v1/tenants/:tenantId/profile-attributes/:attributeId', tag: 'profiles',
    summary: 'Change a custom attribute\'s label, rules or mutability (new rules apply to new writes)',
    permission: 'portal.profiles.manage', tenantScoped: true, params: z.strictObject({ attributeId: uuid }), body: updateAttributeBody,
    responses: { 200: { description: 'The attribute', schema: customAttributeSchema } },
    handler: async ({ params, body, caller, tenant, deps, requestId }) => {
      const updated = await deps.db.transaction().execute(async (tx) => {
        const current = await getCustomAttribute(tx, tenant.id, params.attributeId);
        if (!current) throw new ApiError('not_found', `Attribute ${params.attributeId} was not found.`);
        const next = {
          key: current.key, type: current.type, label: body.label ?? current.label, required: body.required ?? current.required,
          mutability: body.mutability ?? current.mutability,
          enumValues: body.enumValues !== undefined ? body.enumValues : current.enumValues,
          pattern: body.pattern !== undefined ? body.pattern : current.pattern,
          min: body.min !== undefined ? body.min : current.min, max: body.max !== undefined ? body.max : current.max,
          description: body.description !== undefined ? body.description : current.description,
        };
        const errors = definitionErrors(next).filter((e) => e.path !== 'body.key');
        if (errors.length > 0) throw new ApiError('validation_failed', 'The attribute definition is not valid.', errors);
        const attribute = await updateCustomAttribute(tx, tenant.id, params.attributeId, next);
        if (!attribute) throw new ApiError('not_found', `Attribute ${params.attributeId} was not found.`);
        await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: 'profile.attribute_updated', target: { kind: 'profile_attribute', id: attribute.id }, details: definitionDetails(attribute), requestId });
        return attribute;
      });
      return { status: 200, body: updated };
    },
  }),
  defineRoute({
    method: 'delete', path: '/v1/tenants/:tenantId/profile-attributes/:attributeId', tag: 'profiles',
    summary: 'Delete a custom attribute nobody holds a value of (409 attribute_in_use otherwise)',
    permission: 'portal.profiles.manage', tenantScoped: true, params: z.strictObject({ attributeId: uuid }),
    responses: { 204: { description: 'Deleted' } },
    handler: async ({ params, caller, tenant, deps, requestId }) => {
      await deps.db.transaction().execute(async (tx) => {
        const current = await getCustomAttribute(tx, tenant.id, params.attributeId);
        if (!current) throw new ApiError('not_found', `Attribute ${params.attributeId} was not found.`);
        const holders = await countAttributeHolders(tx, tenant.id, current.key);
        if (holders > 0) throw new ApiError('attribute_in_use', `${holders} people hold a value of ${current.key}; the values and their history stay.`);
        await deleteCustomAttribute(tx, tenant.id, params.attributeId);
        await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: 'profile.attribute_deleted', target: { kind: 'profile_attribute', id: current.id }, details: definitionDetails(current), requestId });
      });
      return { status: 204 };
    },
  }),

  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/profile-precedence', tag: 'profiles', summary: 'Read the tenant\'s source precedence',
    permission: 'portal.profiles.view', tenantScoped: true,
    responses: { 200: { description: 'The default order and per-attribute orders, highest first', schema: precedenceSchema } },
    handler: async ({ tenant, deps }) => ({ status: 200, body: { ...(await getSourcePrecedence(deps.db, tenant.id)), builtInDefault: DefaultSourcePrecedence } }),
  }),
  defineRoute({
    method: 'put', path: '/v1/tenants/:tenantId/profile-precedence', tag: 'profiles',
    summary: 'Replace the tenant\'s source precedence (a default order and per-attribute orders)',
    permission: 'portal.profiles.manage', tenantScoped: true, body: precedenceBody,
    responses: { 200: { description: 'The new configuration', schema: precedenceSchema } },
    handler: async ({ body, caller, tenant, deps, requestId }) => {
      const result = await deps.db.transaction().execute(async (tx) => {
        const specs = attributeSpecs(await listCustomAttributes(tx, tenant.id));
        const unknown = Object.keys(body.attributes).filter((k) => !specs.has(k) && k !== EMAILS_ATTRIBUTE);
        if (unknown.length > 0) {
          throw new ApiError('validation_failed', 'Precedence names attributes that do not exist.', unknown.map((k) => ({ path: `body.attributes.${k}`, message: 'is not a profile attribute of this tenant' })));
        }
        const saved = await replaceSourcePrecedence(tx, tenant.id, { default: body.default ?? null, attributes: body.attributes });
        await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: 'profile.precedence_updated', target: { kind: 'tenant', id: tenant.id }, details: { default: saved.default, attributes: saved.attributes }, requestId });
        return saved;
      });
      return { status: 200, body: { ...result, builtInDefault: DefaultSourcePrecedence } };
    },
  }),

  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/resolution-issues', tag: 'profiles', summary: 'List resolution issues (profile values not applied)',
    permission: 'portal.resolution_issues.view', tenantScoped: true,
    query: z.strictObject({ ...pageQuery, status: z.enum(['open', 'resolved']).optional(), personId: uuid.optional(), attribute: attributeKey.optional() }),
    responses: { 200: { description: 'A page of issues, oldest first', schema: pageOf(issueSchema) } },
    handler: async ({ query, tenant, deps }) => ({
      status: 200,
      body: await listResolutionIssues(deps.db, tenant.id, { status: query.status, personId: query.personId, attribute: query.attribute }, query.cursor ?? null, query.limit),
    }),
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/resolution-issues/:issueId', tag: 'profiles', summary: 'Read a resolution issue with its candidates',
    permission: 'portal.resolution_issues.view', tenantScoped: true, params: z.strictObject({ issueId: uuid }),
    responses: { 200: { description: 'The issue', schema: issueSchema } },
    handler: async ({ params, tenant, deps }) => {
      const issue = await getResolutionIssue(deps.db, tenant.id, params.issueId);
      if (!issue) throw new ApiError('not_found', `Issue ${params.issueId} was not found.`);
      return { status: 200, body: issue };
    },
  }),
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/resolution-issues/:issueId/resolve', tag: 'profiles',
    summary: 'Resolve an issue: choose a candidate (keeps its provenance), type a value (source manual), or keep the current value',
    permission: 'portal.resolution_issues.manage', tenantScoped: true, params: z.strictObject({ issueId: uuid }), body: resolveBody,
    responses: { 200: { description: 'The resolved issue', schema: issueSchema } },
    handler: async ({ params, body, caller, tenant, deps, requestId }) => {
      const choice: ResolutionChoice = 'candidate' in body ? { candidate: body.candidate } : 'value' in body ? { value: body.value } : { keepCurrent: true };
      try {
        const issue = await deps.db.transaction().execute((tx) => resolveIssue(tx, {
          tenantId: tenant.id, issueId: params.issueId, choice, comment: body.comment ?? null, actor: actorOf(caller), requestId,
        }));
        if (!issue) throw new ApiError('not_found', `Issue ${params.issueId} was not found.`);
        return { status: 200, body: issue };
      } catch (err) {
        if (err instanceof IssueAlreadyResolvedError) throw new ApiError('issue_resolved', err.message);
        if (err instanceof ResolutionValueError) {
          const path = err.kind === 'no_such_candidate' ? 'body.candidate' : 'body.value';
          throw new ApiError(err.kind === 'unresolved_reference' ? 'reference_not_found' : 'validation_failed', err.message, [{ path, message: err.reason }]);
        }
        throw err;
      }
    },
  }),
];
