import { z } from 'zod';
import { createApiToken, getApiToken, listApiTokens, revokeApiToken } from '../../db/repositories/api-tokens';
import { appendAudit } from '../../db/repositories/audit';
import { missingPersonIds } from '../../db/repositories/people';
import { actorOf } from '../context';
import { Permissions } from '../permissions';
import { ApiError } from '../problems';
import { defineRoute } from '../route';
import { apiTokenSchema, name, pageOf, pageQuery, uuid } from '../schemas';

const createTokenBody = z.strictObject({
  name,
  permissions: z.array(z.enum(Permissions)).min(1).max(Permissions.length),
  /** The person the token acts as (a requester or approver); omit for a service token. */
  personId: uuid.nullable().optional(),
}).meta({ id: 'CreateApiToken' });

const tokenParams = z.strictObject({ tokenId: uuid });

export const apiTokenRoutes = [
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/api-tokens', tag: 'api tokens',
    summary: 'Create an API token; its secret is in this response only',
    permission: 'portal.tokens.manage', tenantScoped: true, body: createTokenBody,
    responses: { 201: { description: 'Created', schema: apiTokenSchema.extend({ secret: z.string() }), headers: { Location: 'The token' } } },
    handler: async ({ body, caller, tenant, deps, requestId }) => {
      const escalation = body.permissions.filter((p) => !caller.permissions.has(p));
      if (escalation.length > 0) {
        throw new ApiError('permission_escalation', `This token does not hold: ${escalation.join(', ')}.`);
      }
      if (body.personId && (await missingPersonIds(deps.db, tenant.id, [body.personId])).length > 0) {
        throw new ApiError('reference_not_found', `Person ${body.personId} was not found.`, [{ path: 'body.personId', message: 'no such person in this tenant' }]);
      }
      const { token, secret } = await deps.db.transaction().execute(async (tx) => {
        const created = await createApiToken(tx, { tenantId: tenant.id, name: body.name, permissions: [...new Set(body.permissions)], personId: body.personId ?? null });
        await appendAudit(tx, {
          tenantId: tenant.id, actor: actorOf(caller), action: 'api_token.created', target: { kind: 'api_token', id: created.token.id },
          details: { name: created.token.name, permissions: created.token.permissions, personId: created.token.personId }, requestId,
        });
        return created;
      });
      return { status: 201, body: { ...token, secret }, headers: { Location: `/v1/tenants/${tenant.id}/api-tokens/${token.id}` } };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/api-tokens', tag: 'api tokens', summary: 'List API tokens (never their secrets)',
    permission: 'portal.tokens.manage', tenantScoped: true, query: z.strictObject(pageQuery),
    responses: { 200: { description: 'A page of tokens', schema: pageOf(apiTokenSchema) } },
    handler: async ({ query, tenant, deps }) => ({ status: 200, body: await listApiTokens(deps.db, tenant.id, query.cursor ?? null, query.limit) }),
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/api-tokens/:tokenId', tag: 'api tokens', summary: 'Read an API token',
    permission: 'portal.tokens.manage', tenantScoped: true, params: tokenParams,
    responses: { 200: { description: 'The token', schema: apiTokenSchema } },
    handler: async ({ params, tenant, deps }) => {
      const token = await getApiToken(deps.db, tenant.id, params.tokenId);
      if (!token) throw new ApiError('not_found', `API token ${params.tokenId} was not found.`);
      return { status: 200, body: token };
    },
  }),
  defineRoute({
    method: 'delete', path: '/v1/tenants/:tenantId/api-tokens/:tokenId', tag: 'api tokens',
    summary: 'Revoke an API token (revoking a revoked token succeeds)',
    permission: 'portal.tokens.manage', tenantScoped: true, params: tokenParams,
    responses: { 200: { description: 'The revoked token', schema: apiTokenSchema } },
    handler: async ({ params, caller, tenant, deps, requestId }) => {
      const result = await deps.db.transaction().execute(async (tx) => {
        const revoked = await revokeApiToken(tx, tenant.id, params.tokenId);
        if (revoked?.changed) {
          await appendAudit(tx, {
            tenantId: tenant.id, actor: actorOf(caller), action: 'api_token.revoked', target: { kind: 'api_token', id: params.tokenId },
            details: { name: revoked.token.name }, requestId,
          });
        }
        return revoked;
      });
      if (!result) throw new ApiError('not_found', `API token ${params.tokenId} was not found.`);
      return { status: 200, body: result.token };
    },
  }),
];
