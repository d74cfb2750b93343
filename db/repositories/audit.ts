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

/** Audit events appended inside `gatheringAudit`, per transaction, waiting to be written together. */
const gathered = new WeakMap<Executor, AuditEventInput[]>();

/**
 * Appends one audit event (the table refuses updates and deletes). Inside `gatheringAudit` on the same
 * transaction it is written, in order, with the others at the end of that call instead of at once.
 */
export async function appendAudit(db: Executor, event: AuditEventInput): Promise<void> {
  await appendAudits(db, [event]);
}

/** Appends audit events, in order, in one statement (or gathered, as `appendAudit`). */
export async function appendAudits(db: Executor, events: readonly AuditEventInput[]): Promise<void> {
  const pending = gathered.get(db);
  if (pending) pending.push(...events);
  else await insertAudits(db, events);
}

async function insertAudits(db: Executor, events: readonly AuditEventInput[]): Promise<void> {
  if (events.length === 0) return;
  await db.insertInto('audit_events').values(events.map(auditRow)).execute();
}

/** The `audit_events` row of an event, for a statement that writes it along with something else. */
export function auditRow(event: AuditEventInput) {
  return {
    tenant_id: event.tenantId,
    actor_kind: event.actor.kind,
    actor_id: event.actor.id,
    action: event.action,
    target_kind: event.target.kind,
    target_id: event.target.id,
    details: JSON.stringify(event.details ?? {}),
    request_id: event.requestId ?? null,
  };
}

/**
 * Runs `work` in transaction `tx` with every audit event it appends on `tx` gathered, then writes them in
 * one statement: a write path of many steps pays one round trip for its audit trail, not one per event.
 * The events commit (or roll back) with the transaction either way.
 */
export async function gatheringAudit<T>(tx: Executor, work: () => Promise<T>): Promise<T> {
  if (gathered.has(tx)) return work();
  const events: AuditEventInput[] = [];
  gathered.set(tx, events);
  try {
    const result = await work();
    gathered.delete(tx);
    await insertAudits(tx, events);
    return result;
  } finally {
    gathered.delete(tx);
  }
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

/**
 * Every audit event matching `filter`, oldest first, read page by page (an export must hold all of them:
 * a plan's trail grows with whatever anyone sends it, refused callbacks included, and a first page would
 * drop the events that matter most, its end, which come last).
 */
export async function listAllAudit(db: Executor, tenantId: string, filter: AuditFilter, pageSize = 500): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<AuditEvent> = await listAudit(db, tenantId, filter, cursor, pageSize);
    events.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return events;
}
