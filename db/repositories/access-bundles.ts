import { sql } from 'kysely';
import type { BundleDefinition, EligibilityFacts } from '../../workflows/access-policy';
import type { Executor } from '../database';
import { isUuid, newId } from './ids';
import { decodeCursor, type Page, toPage } from './pagination';
import { canonicalJson } from './canonical-json';

/** A bundle at one version. */
export interface AccessBundle {
  id: string;
  tenantId: string;
  version: number;
  definition: BundleDefinition;
  createdAt: Date;
  updatedAt: Date;
}

/** Creates a bundle at version 1; null when the name is taken in the tenant. */
export async function createBundle(tx: Executor, input: { tenantId: string; definition: BundleDefinition; createdBy: string }): Promise<AccessBundle | null> {
  const row = await tx.insertInto('access_bundles')
    .values({ id: newId(), tenant_id: input.tenantId, name: input.definition.name, current_version: 1 })
    .onConflict((oc) => oc.columns(['tenant_id', 'name']).doNothing())
    .returningAll().executeTakeFirst();
  if (!row) return null;
  await tx.insertInto('access_bundle_versions')
    .values({ bundle_id: row.id, version: 1, tenant_id: input.tenantId, definition: JSON.stringify(input.definition), created_by: input.createdBy })
    .execute();
  return { id: row.id, tenantId: row.tenant_id, version: 1, definition: input.definition, createdAt: row.created_at, updatedAt: row.updated_at };
}

export class BundleNameTakenError extends Error {}

/**
 * Replaces a bundle's definition with a new version; an identical definition is "already in that state"
 * and creates no version. Pending requests keep the version they were submitted under.
 */
export async function updateBundle(
  tx: Executor, input: { tenantId: string; bundleId: string; definition: BundleDefinition; createdBy: string },
): Promise<{ bundle: AccessBundle; changed: boolean } | null> {
  const current = await tx.selectFrom('access_bundles').selectAll()
    .where('tenant_id', '=', input.tenantId).where('id', '=', input.bundleId).forUpdate().executeTakeFirst();
  if (!current) return null;
  const existing = await getBundle(tx, input.tenantId, input.bundleId);
  if (existing && canonicalJson(existing.definition) === canonicalJson(input.definition)) return { bundle: existing, changed: false };
  if (input.definition.name !== current.name) {
    const clash = await tx.selectFrom('access_bundles').select('id')
      .where('tenant_id', '=', input.tenantId).where('name', '=', input.definition.name).executeTakeFirst();
    if (clash) throw new BundleNameTakenError(input.definition.name);
  }
  const version = current.current_version + 1;
  await tx.insertInto('access_bundle_versions')
    .values({ bundle_id: input.bundleId, version, tenant_id: input.tenantId, definition: JSON.stringify(input.definition), created_by: input.createdBy })
    .execute();
  const row = await tx.updateTable('access_bundles')
    .set({ current_version: version, name: input.definition.name, updated_at: new Date() })
    .where('id', '=', input.bundleId).returningAll().executeTakeFirstOrThrow();
  return { bundle: { id: row.id, tenantId: row.tenant_id, version, definition: input.definition, createdAt: row.created_at, updatedAt: row.updated_at }, changed: true };
}

function selectBundles(db: Executor, tenantId: string) {
  return db.selectFrom('access_bundles as b')
    .innerJoin('access_bundle_versions as v', (j) => j.onRef('v.bundle_id', '=', 'b.id'))
    .select(['b.id', 'b.tenant_id', 'b.created_at', 'b.updated_at', 'b.current_version', 'v.version', 'v.definition'])
    .where('b.tenant_id', '=', tenantId);
}

type BundleSelection = { id: string; tenant_id: string; created_at: Date; updated_at: Date; version: number; definition: BundleDefinition };

function toBundle(r: BundleSelection): AccessBundle {
  return { id: r.id, tenantId: r.tenant_id, version: r.version, definition: r.definition, createdAt: r.created_at, updatedAt: r.updated_at };
}

/** A bundle at its current version, or at `version`. */
export async function getBundle(db: Executor, tenantId: string, id: string, version?: number): Promise<AccessBundle | null> {
  if (!isUuid(id)) return null;
  let q = selectBundles(db, tenantId).where('b.id', '=', id);
  q = version === undefined ? q.whereRef('v.version', '=', 'b.current_version') : q.where('v.version', '=', version);
  const row = await q.executeTakeFirst();
  return row ? toBundle(row) : null;
}

export async function listBundles(db: Executor, tenantId: string, cursor: string | null, limit: number): Promise<Page<AccessBundle>> {
  let q = selectBundles(db, tenantId).whereRef('v.version', '=', 'b.current_version');
  if (cursor) q = q.where('b.id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('b.id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toBundle);
}

/** What eligibility rules are evaluated against: the person's profile here and every group they are in. */
export async function eligibilityFacts(db: Executor, tenantId: string, personId: string): Promise<EligibilityFacts> {
  const membership = await db.selectFrom('tenant_memberships').select('profile')
    .where('tenant_id', '=', tenantId).where('person_id', '=', personId).executeTakeFirst();
  const groups = await db.selectFrom('access_edges').select('target_id').distinct()
    .where('tenant_id', '=', tenantId).where('person_id', '=', personId).where('target_kind', '=', 'group').where('revoked_at', 'is', null)
    .execute();
  return { profile: membership?.profile ?? {}, groupIds: new Set(groups.map((g) => g.target_id)) };
}

/** Everyone in a group, directly, through nested groups or through a grant (every live edge to it). */
export async function groupMemberPeople(db: Executor, tenantId: string, groupIds: readonly string[]): Promise<string[]> {
  if (groupIds.length === 0) return [];
  const rows = await db.selectFrom('access_edges').select('person_id').distinct()
    .where('tenant_id', '=', tenantId).where('target_kind', '=', 'group').where('target_id', 'in', [...groupIds])
    .where('revoked_at', 'is', null).execute();
  return rows.map((r) => r.person_id);
}

/** The manager recorded in a person's profile (the `manager` attribute, a person id), if it resolves. */
export async function managerOf(db: Executor, tenantId: string, personId: string): Promise<string | null> {
  const row = await db.selectFrom('tenant_memberships').select(sql<string | null>`profile->>'manager'`.as('manager'))
    .where('tenant_id', '=', tenantId).where('person_id', '=', personId).executeTakeFirst();
  const manager = row?.manager ?? null;
  if (!manager || !isUuid(manager)) return null;
  const exists = await db.selectFrom('tenant_memberships').select('person_id')
    .where('tenant_id', '=', tenantId).where('person_id', '=', manager).executeTakeFirst();
  return exists ? manager : null;
}
