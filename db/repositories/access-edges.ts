import { sql } from 'kysely';
import type { Executor } from '../database';
import type { AccessEdgeRow, AccessSource, AccessTargetKind, AccessTrust } from '../tables/access-edges';
import { isUuid, newId } from './ids';
import { decodeCursor, type Page, toPage } from './pagination';

export type { AccessSource, AccessTargetKind, AccessTrust };

/** One "person has target" fact and why. */
export interface AccessEdge {
  id: string;
  tenantId: string;
  personId: string;
  target: { kind: AccessTargetKind; id: string };
  source: AccessSource;
  trust: AccessTrust;
  sourceRef: string;
  viaGroupId: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface EdgeFact {
  tenantId: string;
  personId: string;
  targetKind: AccessTargetKind;
  targetId: string;
  source: AccessSource;
  trust: AccessTrust;
  sourceRef: string;
  viaGroupId?: string | null;
}

function toEdge(r: AccessEdgeRow): AccessEdge {
  return {
    id: r.id, tenantId: r.tenant_id, personId: r.person_id, target: { kind: r.target_kind, id: r.target_id },
    source: r.source, trust: r.trust, sourceRef: r.source_ref, viaGroupId: r.via_group_id,
    createdAt: r.created_at, revokedAt: r.revoked_at,
  };
}

/** Records an edge; an identical live edge already there is success (returns created: false). */
export async function grantEdge(db: Executor, f: EdgeFact): Promise<{ created: boolean }> {
  const row = await db
    .insertInto('access_edges')
    .values({
      id: newId(), tenant_id: f.tenantId, person_id: f.personId, target_kind: f.targetKind, target_id: f.targetId,
      source: f.source, trust: f.trust, source_ref: f.sourceRef, via_group_id: f.viaGroupId ?? null,
    })
    .onConflict((oc) => oc
      .columns(['tenant_id', 'person_id', 'target_kind', 'target_id', 'source', 'source_ref'])
      .where('revoked_at', 'is', null)
      .doNothing())
    .returning('id')
    .executeTakeFirst();
  return { created: row !== undefined };
}

/** Revokes the live edges with the given source reference; returns how many were live. */
export async function revokeEdgesBySourceRef(db: Executor, tenantId: string, sourceRef: string): Promise<number> {
  const rows = await db.updateTable('access_edges').set({ revoked_at: new Date() })
    .where('tenant_id', '=', tenantId).where('source_ref', '=', sourceRef).where('revoked_at', 'is', null)
    .returning('id').execute();
  return rows.length;
}

/** How many live edges a person has in a tenant. */
export async function countLiveEdges(db: Executor, tenantId: string, personId: string): Promise<number> {
  const row = await db.selectFrom('access_edges').select((eb) => eb.fn.countAll<string | number>().as('n'))
    .where('tenant_id', '=', tenantId).where('person_id', '=', personId).where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Serialises access-edge recomputation within one tenant for the rest of the transaction. */
export async function lockTenantAccess(db: Executor, tenantId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`access:${tenantId}`}))`.execute(db);
}

export interface EdgeFilter {
  personId?: string | undefined;
  targetKind?: AccessTargetKind | undefined;
  targetId?: string | undefined;
  source?: AccessSource | undefined;
  state?: 'live' | 'revoked' | 'all' | undefined;
}

/** Lists a tenant's access edges (live ones by default), filtered, by cursor. */
export async function listEdges(db: Executor, tenantId: string, filter: EdgeFilter, cursor: string | null, limit: number): Promise<Page<AccessEdge>> {
  let q = db.selectFrom('access_edges').selectAll().where('tenant_id', '=', tenantId);
  if (filter.personId) q = q.where('person_id', '=', filter.personId);
  if (filter.targetKind) q = q.where('target_kind', '=', filter.targetKind);
  if (filter.targetId) q = q.where('target_id', '=', filter.targetId);
  if (filter.source) q = q.where('source', '=', filter.source);
  const state = filter.state ?? 'live';
  if (state === 'live') q = q.where('revoked_at', 'is', null);
  if (state === 'revoked') q = q.where('revoked_at', 'is not', null);
  if (cursor) q = q.where('id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toEdge);
}

/** Revokes one person's live edges to one target from one source reference; returns how many were live. */
export async function revokeEdge(db: Executor, f: Pick<EdgeFact, 'tenantId' | 'personId' | 'targetKind' | 'targetId' | 'sourceRef'>): Promise<number> {
  const rows = await db.updateTable('access_edges').set({ revoked_at: new Date() })
    .where('tenant_id', '=', f.tenantId).where('person_id', '=', f.personId).where('target_kind', '=', f.targetKind)
    .where('target_id', '=', f.targetId).where('source_ref', '=', f.sourceRef).where('revoked_at', 'is', null)
    .returning('id').execute();
  return rows.length;
}

/**
 * Revokes every live edge that gives one person one target, whatever its source, except group-derived
 * edges (source `group`): those follow the group graph, and the caller recomputes them
 * (`syncDerivedGroupEdges`) once the membership that confers them is gone or kept. Returns how many were live.
 */
export async function revokeAccessToTarget(db: Executor, f: Pick<EdgeFact, 'tenantId' | 'personId' | 'targetKind' | 'targetId'>): Promise<number> {
  const rows = await db.updateTable('access_edges').set({ revoked_at: new Date() })
    .where('tenant_id', '=', f.tenantId).where('person_id', '=', f.personId).where('target_kind', '=', f.targetKind)
    .where('target_id', '=', f.targetId).where('source', '!=', 'group').where('revoked_at', 'is', null)
    .returning('id').execute();
  return rows.length;
}
