import type { Executor } from '../database';
import type { Profile } from '../tables/memberships';
import type { PersonRow, PersonStatus } from '../tables/people';
import { isUuid } from './ids';
import { decodeCursor, type Page, toPage } from './pagination';

export type { Profile, PersonStatus };

export interface Person {
  id: string;
  tenantId: string;
  displayName: string;
  email: string | null;
  status: PersonStatus;
  setupWorkflowId: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** The identity profile of the person's membership in this tenant (null until set up). */
  profile: Profile | null;
}

export interface NewPerson {
  id: string;
  tenantId: string;
  displayName: string;
  email: string | null;
  setupWorkflowId: string;
}

function toPerson(r: PersonRow & { profile: Profile | null }): Person {
  return {
    id: r.id, tenantId: r.tenant_id, displayName: r.display_name, email: r.email, status: r.status,
    setupWorkflowId: r.setup_workflow_id, createdAt: r.created_at, updatedAt: r.updated_at, profile: r.profile,
  };
}

/**
 * Records a person as pending, unless they already exist (a retried create, or a setup activity that ran
 * first). Returns true when this call created the row.
 */
export async function insertPendingPerson(db: Executor, p: NewPerson): Promise<boolean> {
  const row = await db
    .insertInto('people')
    .values({ id: p.id, tenant_id: p.tenantId, display_name: p.displayName, email: p.email, status: 'pending', setup_workflow_id: p.setupWorkflowId })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

function selectPeople(db: Executor, tenantId: string) {
  return db
    .selectFrom('people')
    .leftJoin('tenant_memberships', (j) => j.onRef('tenant_memberships.person_id', '=', 'people.id')
      .on('tenant_memberships.tenant_id', '=', tenantId))
    .selectAll('people')
    .select('tenant_memberships.profile')
    .where((eb) => eb.or([eb('people.tenant_id', '=', tenantId), eb('tenant_memberships.id', 'is not', null)]));
}

/** A person in a tenant: one it owns, or one with a membership there. */
export async function getPerson(db: Executor, tenantId: string, id: string): Promise<Person | null> {
  if (!isUuid(id)) return null;
  const row = await selectPeople(db, tenantId).where('people.id', '=', id).executeTakeFirst();
  return row ? toPerson(row) : null;
}

/** The ids among `ids` that are not people of the tenant. */
export async function missingPersonIds(db: Executor, tenantId: string, ids: readonly string[]): Promise<string[]> {
  const wellFormed = ids.filter(isUuid);
  const found = wellFormed.length === 0 ? [] : await selectPeople(db, tenantId).where('people.id', 'in', wellFormed).execute();
  const present = new Set(found.map((r) => r.id));
  return ids.filter((id) => !present.has(id));
}

export async function listPeople(
  db: Executor, tenantId: string, filter: { status?: PersonStatus | undefined; email?: string | undefined }, cursor: string | null, limit: number,
): Promise<Page<Person>> {
  let q = selectPeople(db, tenantId);
  if (filter.status) q = q.where('people.status', '=', filter.status);
  if (filter.email) q = q.where('people.email', '=', filter.email);
  if (cursor) q = q.where('people.id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('people.id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toPerson);
}
