import type { Request } from 'express';
import { findLiveToken } from '../db/repositories/api-tokens';
import { getTenant } from '../db/repositories/tenants';
import type { ApiDeps, Caller } from './context';
import { isPermission } from './permissions';
import { ApiError } from './problems';

/** Resolves the bearer token of a request to its caller; anything else is `unauthenticated`. */
export async function authenticate(req: Request, deps: ApiDeps): Promise<Caller> {
  const header = req.get('authorization') ?? '';
  const match = /^Bearer ([A-Za-z0-9_\-.~+/]+=*)$/.exec(header);
  if (!match?.[1]) throw new ApiError('unauthenticated', 'Send an API token as `Authorization: Bearer <token>`.');
  const token = await findLiveToken(deps.db, match[1]);
  if (!token) throw new ApiError('unauthenticated', 'The API token is unknown or revoked.');
  const tenant = await getTenant(deps.db, token.tenantId);
  if (!tenant) throw new ApiError('unauthenticated', 'The API token is unknown or revoked.');
  return {
    tokenId: token.id,
    tenantId: tenant.id,
    tenantKind: tenant.kind,
    personId: token.personId,
    permissions: new Set(token.permissions.filter(isPermission)),
  };
}
