import type { Executor } from '../database';
import type { ActorKind } from '../tables/audit-events';
import { decodeCursor, type Page, toPage } from './pagination';

/** Who did something: an API token, the system itself, a workflow, or the command line. */
export interface Actor {
  kind: ActorKind;
  id: string;
}

export interface AuditEventInput {
  tenantId: string;
  actor: Actor;
  action: string;
  target: { kind: string; id: string };
  details?: Record<string, unknown>;
  requestId?: string | null;
}

export interface AuditEvent {
  id: string;
  tenantId: string;
  occurredAt: Date;
  actor: Actor;
  action: string;
  target: { kind: string; id: string };
  details: Record<string, unknown>;
  requestId: string | null;
}

/** Appends one audit event (the table refuses updates and deletes). */
export async function appendAudit(db: Executor, event: AuditEventInput): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      tenant_id: event.tenantId,
      actor_kind: event.actor.kind,
      actor_id: event.actor.id,
      action: event.action,
      target_kind: event.target.kind,
      target_id: event.target.id,
      details: JSON.stringify(event.details ?? {}),
      request_id: event.requestId ?? null,
    })
    .execute();
}

export interface AuditFilter {
  action?: string | undefined;
  targetKind?: string | undefined;
  targetId?: string | undefined;
  actorId?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

/** Lists a tenant's audit events oldest first, filtered, by cursor. */
export async function listAudit(
  db: Executor, tenantId: string, filter: AuditFilter, cursor: string | null, limit: number,
): Promise<Page<AuditEvent>> {
  let q = db.selectFrom('audit_events').selectAll().where('tenant_id', '=', tenantId);
  if (filter.action) q = q.where('action', '=', filter.action);
  if (filter.targetKind) q = q.where('target_kind', '=', filter.targetKind);
  if (filter.targetId) q = q.where('target_id', '=', filter.targetId);
  if (filter.actorId) q = q.where('actor_id', '=', filter.actorId);
  if (filter.since) q = q.where('occurred_at', '>=', filter.since);
  if (filter.until) q = q.where('occurred_at', '<', filter.until);
  if (cursor) {
    q = q.where('id', '>', decodeCursor(cursor, (k) => /^\d{1,19}$/.test(k)));
  }
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => String(r.id), (r) => ({
    id: String(r.id),
    tenantId: r.tenant_id,
    occurredAt: r.occurred_at,
    actor: { kind: r.actor_kind, id: r.actor_id },
    action: r.action,
    target: { kind: r.target_kind, id: r.target_id },
    details: r.details,
    requestId: r.request_id,
  }));
}
