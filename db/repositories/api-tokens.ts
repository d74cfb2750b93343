import { createHash, randomBytes } from 'node:crypto';
import type { Executor } from '../database';
import type { ApiTokenRow } from '../tables/api-tokens';
import { isUuid, newId } from './ids';
import type { Tenant } from './tenants';
import { decodeCursor, type Page, toPage } from './pagination';

/** A token's public description. The secret is never part of it. */
export interface ApiToken {
  id: string;
  tenantId: string;
  name: string;
  permissions: string[];
  /** The person this token acts as, or null for a service token. */
  personId: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

const TOKEN_PREFIX = 'portal_';

/** SHA-256 of the secret: tokens carry 256 random bits, so a fast hash is enough to make a leak of the table useless. */
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function toApiToken(r: ApiTokenRow): ApiToken {
  return { id: r.id, tenantId: r.tenant_id, name: r.name, permissions: [...r.permissions].sort(), personId: r.person_id, createdAt: r.created_at, revokedAt: r.revoked_at };
}

/** Creates a token and returns it with its secret, which is never readable again. */
export async function createApiToken(
  db: Executor, input: { tenantId: string; name: string; permissions: readonly string[]; personId?: string | null },
): Promise<{ token: ApiToken; secret: string }> {
  const secret = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const row = await db
    .insertInto('api_tokens')
    .values({ id: newId(), tenant_id: input.tenantId, name: input.name, token_hash: hashToken(secret), permissions: [...input.permissions], person_id: input.personId ?? null })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { token: toApiToken(row), secret };
}

/** Finds the live (unrevoked) token for a presented secret, with its tenant, in one query. */
export async function findLiveToken(db: Executor, secret: string): Promise<{ token: ApiToken; tenant: Tenant } | null> {
  if (!secret.startsWith(TOKEN_PREFIX)) return null;
  const row = await db.selectFrom('api_tokens as t').innerJoin('tenants as n', 'n.id', 't.tenant_id').selectAll('t')
    .select(['n.kind as tenant_kind', 'n.slug as tenant_slug', 'n.name as tenant_name', 'n.created_at as tenant_created_at'])
    .where('t.token_hash', '=', hashToken(secret)).where('t.revoked_at', 'is', null).executeTakeFirst();
  if (!row) return null;
  return {
    token: toApiToken(row),
    tenant: { id: row.tenant_id, kind: row.tenant_kind, slug: row.tenant_slug, name: row.tenant_name, createdAt: row.tenant_created_at },
  };
}

export async function getApiToken(db: Executor, tenantId: string, id: string): Promise<ApiToken | null> {
  if (!isUuid(id)) return null;
  const row = await db.selectFrom('api_tokens').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return row ? toApiToken(row) : null;
}

export async function listApiTokens(db: Executor, tenantId: string, cursor: string | null, limit: number): Promise<Page<ApiToken>> {
  let q = db.selectFrom('api_tokens').selectAll().where('tenant_id', '=', tenantId);
  if (cursor) q = q.where('id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toApiToken);
}

/** Revokes a token; revoking a revoked token is success and keeps the first revocation time. */
export async function revokeApiToken(db: Executor, tenantId: string, id: string): Promise<{ token: ApiToken; changed: boolean } | null> {
  const updated = await db.updateTable('api_tokens').set({ revoked_at: new Date() })
    .where('tenant_id', '=', tenantId).where('id', '=', id).where('revoked_at', 'is', null)
    .returningAll().executeTakeFirst();
  if (updated) return { token: toApiToken(updated), changed: true };
  const existing = await getApiToken(db, tenantId, id);
  return existing ? { token: existing, changed: false } : null;
}
