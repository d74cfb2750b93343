import type { Executor } from '../database';
import type { AppAssignmentRow } from '../tables/applications';
import { grantEdge, revokeAccessToTarget } from './access-edges';
import { isUuid, newId } from './ids';
import { decodeCursor, type Page, toPage } from './pagination';

export interface AppAssignment {
  id: string;
  applicationId: string;
  personId: string;
  createdAt: Date;
}

function toAssignment(r: AppAssignmentRow): AppAssignment {
  return { id: r.id, applicationId: r.application_id, personId: r.person_id, createdAt: r.created_at };
}

/** Assigns a person to an application with its access edge; an existing assignment is success. */
export async function assignApplication(
  tx: Executor, input: { tenantId: string; applicationId: string; personId: string },
): Promise<{ assignment: AppAssignment; created: boolean }> {
  const inserted = await tx.insertInto('app_assignments')
    .values({ id: newId(), tenant_id: input.tenantId, application_id: input.applicationId, person_id: input.personId })
    .onConflict((oc) => oc.columns(['application_id', 'person_id']).doNothing())
    .returningAll().executeTakeFirst();
  const row = inserted ?? await tx.selectFrom('app_assignments').selectAll()
    .where('application_id', '=', input.applicationId).where('person_id', '=', input.personId).executeTakeFirstOrThrow();
  await grantEdge(tx, {
    tenantId: input.tenantId, personId: input.personId, targetKind: 'application', targetId: input.applicationId,
    source: 'direct', trust: 'authoritative', sourceRef: `app_assignment:${row.id}`,
  });
  return { assignment: toAssignment(row), created: inserted !== undefined };
}

/**
 * Removes a person's access to an application by every route: the assignment row and every live edge to
 * it (`revokeAccessToTarget`). `changed` is false when nothing was there to remove.
 */
export async function unassignApplication(
  tx: Executor, input: { tenantId: string; applicationId: string; personId: string },
): Promise<{ changed: boolean }> {
  const rows = await tx.deleteFrom('app_assignments')
    .where('tenant_id', '=', input.tenantId).where('application_id', '=', input.applicationId).where('person_id', '=', input.personId)
    .returning('id').execute();
  const revoked = await revokeAccessToTarget(tx, { tenantId: input.tenantId, personId: input.personId, targetKind: 'application', targetId: input.applicationId });
  return { changed: rows.length + revoked > 0 };
}

export async function listAppAssignments(
  db: Executor, tenantId: string, applicationId: string, cursor: string | null, limit: number,
): Promise<Page<AppAssignment>> {
  let q = db.selectFrom('app_assignments').selectAll().where('tenant_id', '=', tenantId).where('application_id', '=', applicationId);
  if (cursor) q = q.where('id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toAssignment);
}
