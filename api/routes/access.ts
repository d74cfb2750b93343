import { z } from 'zod';
import { listEdges } from '../../db/repositories/access-edges';
import { listAudit } from '../../db/repositories/audit';
import { defineRoute } from '../route';
import { accessEdgeSchema, auditEventSchema, isoDate, pageOf, pageQuery, uuid } from '../schemas';

export const accessRoutes = [
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/access-edges', tag: 'access',
    summary: 'List access edges: who has what, and why', permission: 'portal.access.view', tenantScoped: true,
    query: z.strictObject({
      ...pageQuery,
      personId: uuid.optional(),
      targetKind: z.enum(['role', 'group', 'application']).optional(),
      targetId: uuid.optional(),
      source: z.enum(['direct', 'group', 'iga_grant', 'guest', 'support']).optional(),
      state: z.enum(['live', 'revoked', 'all']).default('live'),
    }),
    responses: { 200: { description: 'A page of edges, oldest first', schema: pageOf(accessEdgeSchema) } },
    handler: async ({ query, tenant, deps }) => {
      const { cursor, limit, ...filter } = query;
      return { status: 200, body: await listEdges(deps.db, tenant.id, filter, cursor ?? null, limit) };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/audit-events', tag: 'audit',
    summary: 'List audit events, oldest first', permission: 'portal.audit.view', tenantScoped: true,
    query: z.strictObject({
      ...pageQuery,
      action: z.string().max(100).optional(),
      targetKind: z.string().max(100).optional(),
      targetId: z.string().max(200).optional(),
      actorId: z.string().max(200).optional(),
      since: isoDate.optional(),
      until: isoDate.optional(),
    }),
    responses: { 200: { description: 'A page of audit events', schema: pageOf(auditEventSchema) } },
    handler: async ({ query, tenant, deps }) => {
      const { cursor, limit, since, until, ...filter } = query;
      const page = await listAudit(deps.db, tenant.id, {
        ...filter, since: since ? new Date(since) : undefined, until: until ? new Date(until) : undefined,
      }, cursor ?? null, limit);
      return { status: 200, body: page };
    },
  }),
];
