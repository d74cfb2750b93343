import type { Request } from 'express';
import { findLiveToken } from '../db/repositories/api-tokens';
import type { Tenant } from '../db/repositories/tenants';
import type { ApiDeps, Caller } from './context';
import { isPermission } from './permissions';
import { ApiError } from './problems';

/**
 * Resolves the bearer token of a request to its caller and the caller's own tenant (read with the token,
 * so a request on one's own tenant needs no second lookup); anything else is `unauthenticated`.
 */
export async function authenticate(req: Request, deps: ApiDeps): Promise<{ caller: Caller; tenant: Tenant }> {
  const header = req.get('authorization') ?? '';
  const match = /^Bearer ([A-Za-z0-9_\-.~+/]+=*)$/.exec(header);
  if (!match?.[1]) throw new ApiError('unauthenticated', 'Send an API token as `Authorization: Bearer <token>`.');
  const found = await findLiveToken(deps.db, match[1]);
  if (!found) throw new ApiError('unauthenticated', 'The API token is unknown or revoked.');
  const { token, tenant } = found;
  const caller = {
    tokenId: token.id,
    tenantId: tenant.id,
    tenantKind: tenant.kind,
    personId: token.personId,
    permissions: new Set(token.permissions.filter(isPermission)),
  };
  return { caller, tenant };
}
