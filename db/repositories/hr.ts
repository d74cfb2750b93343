import { sql } from 'kysely';
import type { HrEventPayload, LifecycleKind, LifecycleTemplateDefinition } from '../../workflows/lifecycle.types';
import { defaultTemplate } from '../../workflows/lifecycle.types';
import type { Executor } from '../database';
import type { HrEventRow, HrEventStatus } from '../tables/hr-lifecycle';
import { idFromKey, isUuid, newId } from './ids';
import { decodeCursor, type Page, toPage } from './pagination';

export interface HrSettings {
  disableThreshold: number;
  thresholdWindowSeconds: number;
  leaverDeleteAfterSeconds: number;
  hasSecret: boolean;
}

export const defaultHrSettings = { disableThreshold: 25, thresholdWindowSeconds: 3600, leaverDeleteAfterSeconds: 30 * 24 * 3600 };

export async function getHrSettings(db: Executor, tenantId: string): Promise<HrSettings & { secretCiphertext: string | null }> {
  const row = await db.selectFrom('hr_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  return {
    disableThreshold: row?.disable_threshold ?? defaultHrSettings.disableThreshold,
    thresholdWindowSeconds: row?.threshold_window_seconds ?? defaultHrSettings.thresholdWindowSeconds,
    leaverDeleteAfterSeconds: row?.leaver_delete_after_seconds ?? defaultHrSettings.leaverDeleteAfterSeconds,
    hasSecret: Boolean(row?.secret_ciphertext),
    secretCiphertext: row?.secret_ciphertext ?? null,
  };
}

export async function putHrSettings(db: Executor, tenantId: string, patch: Partial<Omit<HrSettings, 'hasSecret'>> & { secretCiphertext?: string }): Promise<void> {
  const current = await getHrSettings(db, tenantId);
  const values = {
    disable_threshold: patch.disableThreshold ?? current.disableThreshold,
    threshold_window_seconds: patch.thresholdWindowSeconds ?? current.thresholdWindowSeconds,
    leaver_delete_after_seconds: patch.leaverDeleteAfterSeconds ?? current.leaverDeleteAfterSeconds,
    secret_ciphertext: patch.secretCiphertext ?? current.secretCiphertext,
  };
  await db.insertInto('hr_settings').values({ tenant_id: tenantId, ...values })
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ ...values, updated_at: new Date() })).execute();
}

/** The person id an HR employee id maps to: stable, so the lifecycle workflow ID is known before the hire is applied. */
export function personIdForEmployee(tenantId: string, employeeId: string): string {
  return idFromKey(`hr-employee:${tenantId}`, employeeId);
}

export interface HrEvent {
  id: string;
  tenantId: string;
  eventId: string;
  type: string;
  employeeId: string;
  personId: string;
  occurredAt: Date;
  effectiveAt: Date | null;
  channel: string;
  importId: string | null;
  holdId: string | null;
  status: HrEventStatus;
  outcome: string | null;
  receivedAt: Date;
  payload: HrEventPayload;
}

function toEvent(r: HrEventRow): HrEvent {
  return {
    id: r.id, tenantId: r.tenant_id, eventId: r.event_id, type: r.type, employeeId: r.employee_id, personId: r.person_id, occurredAt: r.occurred_at,
    effectiveAt: r.effective_at, channel: r.channel, importId: r.import_id, holdId: r.hold_id, status: r.status, outcome: r.outcome,
    receivedAt: r.received_at, payload: r.payload,
  };
}

/** An accepted event to store. */
export interface NewHrEvent {
  tenantId: string;
  payload: HrEventPayload;
  channel: 'webhook' | 'import';
  importId: string | null;
  status: HrEventStatus;
  holdId: string | null;
}

/** Rows per insert statement: 15 parameters each, well under PostgreSQL's limit of bound parameters. */
const STORE_CHUNK = 500;

/**
 * Stores accepted events, a multi-row insert per chunk; returns, for each input in order, the stored row and
 * whether this call stored it (false: the HR system sent this event id before, or earlier in the same list,
 * and the first copy stands).
 */
export async function storeHrEvents(db: Executor, inputs: readonly NewHrEvent[]): Promise<{ event: HrEvent; created: boolean }[]> {
  const keyOf = (tenantId: string, eventId: string) => `${tenantId}\u0000${eventId}`;
  const first = new Map<string, NewHrEvent>();
  for (const input of inputs) {
    const key = keyOf(input.tenantId, input.payload.eventId);
    if (!first.has(key)) first.set(key, input);
  }
  const stored = new Map<string, HrEvent>();
  const unique = [...first.values()];
  for (let i = 0; i < unique.length; i += STORE_CHUNK) {
    const rows = await db.insertInto('hr_events')
      .values(unique.slice(i, i + STORE_CHUNK).map(({ tenantId, payload: p, channel, importId, status, holdId }) => ({
        id: newId(), tenant_id: tenantId, event_id: p.eventId, type: p.type, employee_id: p.employeeId,
        person_id: personIdForEmployee(tenantId, p.employeeId), occurred_at: new Date(p.occurredAt),
        effective_at: p.effectiveAt ? new Date(p.effectiveAt) : null, payload: JSON.stringify(p), channel,
        import_id: importId, hold_id: holdId, status, outcome: null,
      })))
      .onConflict((oc) => oc.columns(['tenant_id', 'event_id']).doNothing())
      .returningAll().execute();
    for (const row of rows) stored.set(keyOf(row.tenant_id, row.event_id), toEvent(row));
  }
  const earlier = new Map<string, HrEvent>();
  const known = unique.filter((e) => !stored.has(keyOf(e.tenantId, e.payload.eventId)));
  for (let i = 0; i < known.length; i += STORE_CHUNK) {
    const chunk = known.slice(i, i + STORE_CHUNK);
    const rows = await db.selectFrom('hr_events').selectAll()
      .where(({ eb, refTuple, tuple }) => eb(refTuple('tenant_id', 'event_id'), 'in', chunk.map((e) => tuple(e.tenantId, e.payload.eventId))))
      .execute();
    for (const row of rows) earlier.set(keyOf(row.tenant_id, row.event_id), toEvent(row));
  }
  const answered = new Set<string>();
  return inputs.map((input) => {
    const key = keyOf(input.tenantId, input.payload.eventId);
    const created = stored.has(key) && !answered.has(key);
    answered.add(key);
    const event = stored.get(key) ?? earlier.get(key);
    if (!event) throw new Error(`HR event ${input.payload.eventId} was neither stored nor found`);
    return { event, created };
  });
}

export async function getHrEvent(db: Executor, tenantId: string, id: string): Promise<HrEvent | null> {
  const row = await db.selectFrom('hr_events').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return row ? toEvent(row) : null;
}

/** Sets events' status (only those currently `onlyFrom`, when given: a late hand-over never undoes `applied`). */
export async function setHrEventStatus(
  db: Executor, tenantId: string, ids: readonly string[], status: HrEventStatus, outcome: string | null = null, onlyFrom?: HrEventStatus,
): Promise<void> {
  if (ids.length === 0) return;
  let q = db.updateTable('hr_events').set({ status, outcome, updated_at: new Date() }).where('tenant_id', '=', tenantId).where('id', 'in', [...ids]);
  if (onlyFrom) q = q.where('status', '=', onlyFrom);
  await q.execute();
}

/** Events of any tenant still waiting to be handed to their lifecycle since before `receivedBefore`. */
export async function listReceivedHrEvents(db: Executor, receivedBefore: Date, limit: number): Promise<HrEvent[]> {
  const rows = await db.selectFrom('hr_events').selectAll().where('status', '=', 'received').where('updated_at', '<', receivedBefore)
    .orderBy('occurred_at').limit(limit).execute();
  return rows.map(toEvent);
}

/** How many distinct people have disabling events (terminations) received, dispatched or applied within the window. */
export async function recentDisablingCount(db: Executor, tenantId: string, windowSeconds: number): Promise<number> {
  const row = await db.selectFrom('hr_events').select(sql<string>`count(distinct employee_id)`.as('n'))
    .where('tenant_id', '=', tenantId).where('type', '=', 'termination').where('status', 'in', ['received', 'dispatched', 'applied'])
    .where('received_at', '>', new Date(Date.now() - windowSeconds * 1000)).executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Serialises a tenant's HR intake decisions for the transaction: an intake counting terminations and
 * choosing the pending hold to put them under, and an operator deciding that hold, take it in turn. Without
 * it, a termination stored just after an approval would stay `held` under a hold no longer pending.
 */
export async function lockHrIntake(tx: Executor, tenantId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`hr-intake:${tenantId}`}))`.execute(tx);
}

export async function createHold(db: Executor, tenantId: string, reason: string): Promise<string> {
  const id = newId();
  await db.insertInto('hr_holds').values({ id, tenant_id: tenantId, status: 'pending', reason, decided_at: null, decided_by: null }).execute();
  return id;
}

export interface HrHold {
  id: string;
  status: 'pending' | 'approved' | 'rejected';
  reason: string;
  createdAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
  events: number;
}

export async function listHolds(db: Executor, tenantId: string, status: HrHold['status'] | undefined): Promise<HrHold[]> {
  let q = db.selectFrom('hr_holds as h').leftJoin('hr_events as e', 'e.hold_id', 'h.id')
    .select(['h.id', 'h.status', 'h.reason', 'h.created_at', 'h.decided_at', 'h.decided_by', sql<string>`count(e.id)`.as('events')])
    .where('h.tenant_id', '=', tenantId).groupBy(['h.id', 'h.status', 'h.reason', 'h.created_at', 'h.decided_at', 'h.decided_by']);
  if (status) q = q.where('h.status', '=', status);
  const rows = await q.orderBy('h.id').execute();
  return rows.map((r) => ({ id: r.id, status: r.status, reason: r.reason, createdAt: r.created_at, decidedAt: r.decided_at, decidedBy: r.decided_by, events: Number(r.events) }));
}

/**
 * Decides a pending hold; returns its events (oldest first) when it was pending, null when absent. Takes the
 * intake lock first (the order the intake takes them in), so no termination joins the hold after its events
 * are read.
 */
export async function decideHold(tx: Executor, tenantId: string, holdId: string, approve: boolean, by: string): Promise<{ changed: boolean; events: HrEvent[] } | null> {
  if (!isUuid(holdId)) return null;
  await lockHrIntake(tx, tenantId);
  const hold = await tx.selectFrom('hr_holds').selectAll().where('tenant_id', '=', tenantId).where('id', '=', holdId).forUpdate().executeTakeFirst();
  if (!hold) return null;
  const events = (await tx.selectFrom('hr_events').selectAll().where('hold_id', '=', holdId).orderBy('occurred_at').orderBy('event_id').execute()).map(toEvent);
  if (hold.status !== 'pending') return { changed: false, events };
  await tx.updateTable('hr_holds').set({ status: approve ? 'approved' : 'rejected', decided_at: new Date(), decided_by: by }).where('id', '=', holdId).execute();
  await setHrEventStatus(tx, tenantId, events.map((e) => e.id), approve ? 'received' : 'rejected_by_operator', approve ? null : `hold ${holdId} rejected`);
  return { changed: true, events };
}

export async function listHrEvents(
  db: Executor, tenantId: string, f: { status?: HrEventStatus | undefined; employeeId?: string | undefined; personId?: string | undefined }, cursor: string | null, limit: number,
): Promise<Page<HrEvent>> {
  let q = db.selectFrom('hr_events').selectAll().where('tenant_id', '=', tenantId);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.employeeId) q = q.where('employee_id', '=', f.employeeId);
  if (f.personId) q = q.where('person_id', '=', f.personId);
  if (cursor) q = q.where('id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toEvent);
}

/**
 * Takes the lock of a manual kickoff's run id for the transaction, and returns the kickoff already recorded
 * under it (its `lifecycle.kickoff` audit event), or null. Under the lock, a retried kickoff waits for the
 * first to commit or fail, then sees what it did.
 */
export async function lockRecordedKickoff(tx: Executor, tenantId: string, runId: string): Promise<{ kind: string; reason: string } | null> {
  await sql`select pg_advisory_xact_lock(hashtext(${`lifecycle-kickoff:${tenantId}:${runId}`}))`.execute(tx);
  const row = await tx.selectFrom('audit_events').select('details').where('tenant_id', '=', tenantId).where('action', '=', 'lifecycle.kickoff')
    .where(sql`details->>'runId'`, '=', runId).executeTakeFirst();
  return row ? { kind: String(row.details.kind), reason: String(row.details.reason) } : null;
}

/** The tenant's current template of a kind: its latest stored version, or the default (version 0). */
export async function currentTemplate(db: Executor, tenantId: string, kind: LifecycleKind): Promise<{ version: number; definition: LifecycleTemplateDefinition }> {
  const row = await db.selectFrom('lifecycle_templates').select(['version', 'definition'])
    .where('tenant_id', '=', tenantId).where('kind', '=', kind).orderBy('version', 'desc').executeTakeFirst();
  if (row) return row;
  const settings = await getHrSettings(db, tenantId);
  return { version: 0, definition: defaultTemplate(kind, settings.leaverDeleteAfterSeconds) };
}

export async function templateVersion(db: Executor, tenantId: string, kind: LifecycleKind, version: number): Promise<LifecycleTemplateDefinition | null> {
  if (version === 0) return defaultTemplate(kind, (await getHrSettings(db, tenantId)).leaverDeleteAfterSeconds);
  const row = await db.selectFrom('lifecycle_templates').select('definition')
    .where('tenant_id', '=', tenantId).where('kind', '=', kind).where('version', '=', version).executeTakeFirst();
  return row?.definition ?? null;
}

/** Stores a new template version. */
export async function putTemplate(tx: Executor, tenantId: string, kind: LifecycleKind, definition: LifecycleTemplateDefinition, by: string): Promise<number> {
  await sql`select pg_advisory_xact_lock(hashtext(${`template:${tenantId}:${kind}`}))`.execute(tx);
  const latest = await tx.selectFrom('lifecycle_templates').select('version').where('tenant_id', '=', tenantId).where('kind', '=', kind)
    .orderBy('version', 'desc').executeTakeFirst();
  const version = (latest?.version ?? 0) + 1;
  await tx.insertInto('lifecycle_templates').values({ tenant_id: tenantId, kind, version, definition: JSON.stringify(definition), created_by: by }).execute();
  return version;
}
