import { z } from 'zod';
import { appendAudit } from '../../db/repositories/audit';
import { createTenant, listVisibleTenants } from '../../db/repositories/tenants';
import { actorOf } from '../context';
import { Permissions } from '../permissions';
import { ApiError } from '../problems';
import { defineRoute } from '../route';
import { name, pageOf, pageQuery, tenantSchema, uuid } from '../schemas';

const createTenantBody = z.strictObject({
  kind: z.enum(['customer', 'vendor']),
  slug: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'lowercase letters, digits and inner hyphens, at most 63'),
  name,
}).meta({ id: 'CreateTenant' });

export const tenantRoutes = [
  defineRoute({
    method: 'get', path: '/v1/whoami', tag: 'tenants', summary: 'Describe the calling token', permission: null, tenantScoped: false,
    responses: { 200: { description: 'The caller', schema: z.object({ tokenId: uuid, tenantId: uuid, tenantKind: z.string(), personId: uuid.nullable(), permissions: z.array(z.enum(Permissions)) }) } },
    handler: async ({ caller }) => ({
      status: 200,
      body: { tokenId: caller.tokenId, tenantId: caller.tenantId, tenantKind: caller.tenantKind, personId: caller.personId, permissions: [...caller.permissions].sort() },
    }),
  }),
  defineRoute({
    method: 'post', path: '/v1/tenants', tag: 'tenants', summary: 'Create a customer or vendor tenant (operator tokens only)',
    permission: 'portal.tenants.manage', tenantScoped: false, body: createTenantBody,
    responses: { 201: { description: 'Created', schema: tenantSchema, headers: { Location: 'The tenant' } } },
    handler: async ({ body, caller, deps, requestId }) => {
      if (caller.tenantKind !== 'operator') throw new ApiError('forbidden', 'Only operator-tenant tokens create tenants.');
      const tenant = await deps.db.transaction().execute(async (tx) => {
        const created = await createTenant(tx, body);
        if (!created) throw new ApiError('name_taken', `The slug ${body.slug} is taken.`);
        await appendAudit(tx, {
          tenantId: created.id, actor: actorOf(caller), action: 'tenant.created', target: { kind: 'tenant', id: created.id },
          details: { kind: created.kind, slug: created.slug, byTenantId: caller.tenantId }, requestId,
        });
        return created;
      });
      return { status: 201, body: tenant, headers: { Location: `/v1/tenants/${tenant.id}` } };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants', tag: 'tenants', summary: 'List the tenants this token may act on',
    permission: 'portal.tenants.view', tenantScoped: false, query: z.strictObject(pageQuery),
    responses: { 200: { description: 'A page of tenants', schema: pageOf(tenantSchema) } },
    handler: async ({ query, caller, deps }) => ({
      status: 200,
      body: await listVisibleTenants(deps.db, { tenantId: caller.tenantId, kind: caller.tenantKind }, query.cursor ?? null, query.limit),
    }),
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId', tag: 'tenants', summary: 'Read a tenant',
    permission: 'portal.tenants.view', tenantScoped: true,
    responses: { 200: { description: 'The tenant', schema: tenantSchema } },
    handler: async ({ tenant }) => ({ status: 200, body: tenant }),
  }),
];
