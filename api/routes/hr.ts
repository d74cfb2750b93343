import { randomBytes } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import { appendAudit } from '../../db/repositories/audit';
import type { Executor } from '../../db/database';
import {
  createHold, decideHold, getHrSettings, type HrEvent, listHolds, listHrEvents, lockHrIntake, type NewHrEvent, putHrSettings, recentDisablingCount, storeHrEvents,
} from '../../db/repositories/hr';
import { newId } from '../../db/repositories/ids';
import type { HrEventPayload } from '../../workflows/lifecycle.types';
import { validateProfileValues } from '../../workflows/profile-schema';
import type { ApiDeps } from '../context';
import { GroupCommit } from '../group-commit';
import { TtlCache } from '../ttl-cache';
import { type CustomAttribute, listCustomAttributes } from '../../db/repositories/profile-attributes';
import { encryptSecret } from '../../workers/secrets';
import { actorOf } from '../context';
import { forgetHrSecret } from '../hr-signature';
import { ApiError, type FieldError, fieldErrors, nulCharacterErrors } from '../problems';
import { defineRoute } from '../route';
import { isoDate, pageOf, pageQuery, uuid } from '../schemas';

const visible = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'visible ASCII only');
const dateOrDateTime = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

/**
 * How far ahead of Portal's clock an event's occurredAt may be (clock skew between systems). Events are
 * applied in occurredAt order per person, so one dated far ahead would make every later event look late.
 */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** An HR event as HR systems send it. Strict: an unknown field is an error, not ignored. */
export const hrEventSchema = z.strictObject({
  eventId: visible,
  type: z.enum(['hire', 'update', 'termination', 'rehire', 'cancellation']),
  employeeId: visible,
  occurredAt: z.iso.datetime({ offset: true }),
  effectiveAt: dateOrDateTime.nullable().optional(),
  displayName: z.string().trim().min(1).max(200).nullable().optional(),
  profile: z.record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'attribute names are letters, digits and _'),
    z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]),
  ).refine((p) => Object.keys(p).length <= 100, 'at most 100 attributes').optional(),
  cancelsEventId: visible.nullable().optional(),
}).refine((e) => e.type !== 'cancellation' || Boolean(e.cancelsEventId), { message: 'a cancellation names the event it cancels', path: ['cancelsEventId'] })
  .refine((e) => Date.parse(e.occurredAt) <= Date.now() + MAX_CLOCK_SKEW_MS, {
    message: 'is more than 5 minutes ahead of Portal\'s clock (a future change goes in effectiveAt)', path: ['occurredAt'],
  })
  .meta({ id: 'HrEvent' });

/**
 * The tenant's custom attribute definitions, cached briefly: the webhook is Portal's busiest intake and the
 * definitions change rarely (a new definition applies to events within a few seconds).
 */
const customAttributesCache = new TtlCache<CustomAttribute[]>(5_000, (db, tenantId) => listCustomAttributes(db, tenantId));

/**
 * An event's profile values checked against the tenant's schema. The manager is an HR employee id, checked as
 * text, and never the employee's own: the profile would refuse that when the event is applied, long after the
 * HR system was told it was accepted.
 */
function profileErrors(event: z.output<typeof hrEventSchema>, custom: CustomAttribute[], prefix: string): FieldError[] {
  const { manager, ...rest } = event.profile ?? {};
  const errors = validateProfileValues(rest, custom).errors.map((e) => ({ path: `${prefix}.profile.${e.attribute}`, message: e.reason }));
  if (manager !== undefined && manager !== null && (typeof manager !== 'string' || manager.trim() === '')) {
    errors.push({ path: `${prefix}.profile.manager`, message: 'must be the manager\'s employee id' });
  } else if (manager === event.employeeId) {
    errors.push({ path: `${prefix}.profile.manager`, message: 'an employee cannot be their own manager' });
  }
  return errors;
}

/** The API's group commit for webhook events (one per API process: requests in flight share its inserts). */
function intakeOf(deps: ApiDeps) {
  return deps.hrIntake ??= new GroupCommit((items: NewHrEvent[]) => storeHrEvents(deps.db, items));
}

function normalise(e: z.output<typeof hrEventSchema>): HrEventPayload {
  return {
    eventId: e.eventId, type: e.type, employeeId: e.employeeId, occurredAt: new Date(e.occurredAt).toISOString(),
    effectiveAt: e.effectiveAt ? new Date(e.effectiveAt).toISOString() : null, displayName: e.displayName ?? null,
    profile: e.profile ?? {}, cancelsEventId: e.cancelsEventId ?? null,
  };
}

const hrEventView = z.object({
  id: uuid, eventId: z.string(), type: z.string(), employeeId: z.string(), personId: uuid, occurredAt: isoDate, effectiveAt: isoDate.nullable(),
  channel: z.string(), importId: uuid.nullable(), holdId: uuid.nullable(),
  status: z.enum(['received', 'held', 'dispatched', 'applied', 'superseded', 'rejected_by_operator', 'failed']), outcome: z.string().nullable(), receivedAt: isoDate,
}).meta({ id: 'StoredHrEvent' });

function view(e: HrEvent) {
  const { payload: _payload, ...rest } = e;
  return rest;
}

/**
 * Stores events in one transaction (duplicates keep the first copy), holding new terminations for an
 * operator when they would push the disabled identities within the window past the tenant's threshold.
 */
async function storeBatch(tx: Executor, tenantId: string, events: HrEventPayload[], channel: 'webhook' | 'import', importId: string | null) {
  let holdId: string | null = null;
  const incomingTerminations = events.filter((e) => e.type === 'termination');
  if (incomingTerminations.length > 0) {
    // Terminations of one tenant are counted one intake at a time, so a concurrent burst meets the threshold
    // together; a hold is decided under the same lock, so the pending hold chosen below stays pending until commit.
    await lockHrIntake(tx, tenantId);
    const settings = await getHrSettings(tx, tenantId);
    const known = new Set((await tx.selectFrom('hr_events').select('event_id').where('tenant_id', '=', tenantId)
      .where('event_id', 'in', incomingTerminations.map((e) => e.eventId)).execute()).map((r) => r.event_id));
    const terminations = new Set(incomingTerminations.filter((e) => !known.has(e.eventId)).map((e) => e.employeeId));
    if (terminations.size > 0 && (await recentDisablingCount(tx, tenantId, settings.thresholdWindowSeconds)) + terminations.size > settings.disableThreshold) {
      const pending = await tx.selectFrom('hr_holds').select('id').where('tenant_id', '=', tenantId).where('status', '=', 'pending')
        .where('created_at', '>', new Date(Date.now() - settings.thresholdWindowSeconds * 1000)).orderBy('created_at', 'desc').executeTakeFirst();
      holdId = pending?.id ?? await createHold(tx, tenantId,
        `more than ${settings.disableThreshold} identities would be disabled within ${settings.thresholdWindowSeconds} s`);
      await appendAudit(tx, { tenantId, actor: { kind: 'system', id: 'hr-intake' }, action: 'hr.hold_created', target: { kind: 'hr_hold', id: holdId }, details: { terminations: terminations.size, threshold: settings.disableThreshold } });
    }
  }
  const results = await storeHrEvents(tx, events.map((payload) => {
    const held = holdId !== null && payload.type === 'termination';
    return { tenantId, payload, channel, importId, status: held ? 'held' as const : 'received' as const, holdId: held ? holdId : null };
  }));
  return { stored: results.map((r) => r.event), duplicates: results.filter((r) => !r.created).length, holdId };
}

/**
 * The CSV cell that clears a profile attribute. A blank cell cannot mean "clear": an export of a partial update
 * leaves every column it does not change blank, and clearing them all (a department, say) would run movers
 * that revoke birthright access.
 */
const CSV_CLEAR = '#clear';

/** Parses an import body (CSV with a header row, or JSON lines) into raw records. */
function parseImport(body: string, contentType: string): { records: unknown[]; errors: FieldError[] } {
  if (contentType.startsWith('text/csv')) {
    let rows: Record<string, string>[];
    try {
      rows = parseCsv(body, { columns: true, skip_empty_lines: true, trim: true });
    } catch (err) {
      return { records: [], errors: [{ path: 'body', message: `CSV: ${(err as Error).message}` }] };
    }
    // Columns: eventId,type,employeeId,occurredAt,effectiveAt,displayName,cancelsEventId and profile.<attribute>.
    const errors: FieldError[] = [];
    const records = rows.map((row, i) => {
      const record: Record<string, unknown> = {};
      const profile: Record<string, string | null> = {};
      for (const [k, v] of Object.entries(row)) {
        // A blank cell is a value not given (a partial update leaves it as it is); only the marker clears one.
        if (v === '') continue;
        if (k.startsWith('profile.')) profile[k.slice('profile.'.length)] = v === CSV_CLEAR ? null : v;
        else if (v === CSV_CLEAR) errors.push({ path: `record[${i + 1}].${k}`, message: `${CSV_CLEAR} clears profile.<attribute> columns only` });
        else record[k] = v;
      }
      return { ...record, profile };
    });
    return { records, errors };
  }
  const records: unknown[] = [];
  const errors: FieldError[] = [];
  body.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line));
    } catch {
      errors.push({ path: `line[${i + 1}]`, message: 'not valid JSON' });
    }
  });
  return { records, errors };
}

export const hrRoutes = [
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/hr/events', tag: 'hr',
    summary: 'HR webhook: one event, signed with the tenant\'s HR secret (X-Portal-Timestamp, X-Portal-Signature)',
    permission: null, tenantScoped: true, auth: 'hr_signature', body: hrEventSchema,
    responses: {
      202: { description: 'Stored and handed to the person\'s lifecycle (or held for approval)', schema: hrEventView },
      200: { description: 'A duplicate of an event already stored (the first copy stands)', schema: hrEventView },
    },
    handler: async ({ body, tenant, deps }) => {
      deps.hrDispatcher?.deliveryArrived();
      const invalid = profileErrors(body, await customAttributesCache.get(deps.db, tenant.id), 'body');
      if (invalid.length > 0) throw new ApiError('validation_failed', 'The event has invalid profile values; nothing was stored.', invalid);
      const payload = normalise(body);
      // Only terminations need the threshold check and its transaction; anything else is written with the
      // events of concurrent requests in one insert, and answered once that has committed.
      const { stored, duplicates } = payload.type === 'termination'
        ? await deps.db.transaction().execute((tx) => storeBatch(tx, tenant.id, [payload], 'webhook', null))
        : await intakeOf(deps).submit({ tenantId: tenant.id, payload, channel: 'webhook', importId: null, status: 'received', holdId: null })
          .then(({ event, created }) => ({ stored: [event], duplicates: created ? 0 : 1 }));
      const event = stored[0] as HrEvent;
      // Stored: that is the acknowledgement. The hand-over to the lifecycle happens off the request path.
      deps.hrDispatcher?.enqueue(tenant.id, [event]);
      return { status: duplicates > 0 ? 200 : 202, body: view(event) };
    },
  }),
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/hr/imports', tag: 'hr',
    summary: 'Batch import of HR events as CSV (header row; profile.<attribute> columns) or JSON lines; all or nothing',
    permission: 'portal.hr.manage', tenantScoped: true, bodyType: 'text', body: z.string().min(1),
    responses: { 202: { description: 'Stored and dispatched (terminations over the threshold held)', schema: z.object({
      importId: uuid, accepted: z.int(), duplicates: z.int(), held: z.int(), holdId: uuid.nullable(),
    }) } },
    handler: async ({ body, caller, tenant, deps, req, requestId }) => {
      const { records, errors } = parseImport(body, req.get('content-type') ?? '');
      const events: HrEventPayload[] = [];
      const custom = await listCustomAttributes(deps.db, tenant.id);
      records.forEach((r, i) => {
        // The body was checked for NUL before the handler; a JSON line can still carry one as the escape \u0000.
        const nul = nulCharacterErrors(`record[${i + 1}]`, r);
        if (nul.length > 0) {
          errors.push(...nul);
          return;
        }
        const parsed = hrEventSchema.safeParse(r);
        if (!parsed.success) {
          errors.push(...fieldErrors('body', parsed.error).map((e) => ({ ...e, path: e.path.replace(/^body/, `record[${i + 1}]`) })));
          return;
        }
        const invalid = profileErrors(parsed.data, custom, `record[${i + 1}]`);
        errors.push(...invalid);
        if (invalid.length === 0) events.push(normalise(parsed.data));
      });
      if (errors.length > 0) throw new ApiError('validation_failed', 'The import has invalid records; nothing was stored.', errors);
      if (events.length === 0) throw new ApiError('validation_failed', 'The import has no records.', [{ path: 'body', message: 'empty' }]);
      const importId = newId();
      const result = await deps.db.transaction().execute(async (tx) => {
        const r = await storeBatch(tx, tenant.id, events, 'import', importId);
        await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: 'hr.imported', target: { kind: 'hr_import', id: importId }, details: { records: events.length, duplicates: r.duplicates, holdId: r.holdId }, requestId });
        return r;
      });
      deps.hrDispatcher?.enqueue(tenant.id, result.stored);
      return {
        status: 202,
        body: {
          importId, accepted: events.length - result.duplicates, duplicates: result.duplicates,
          held: result.stored.filter((e) => e.status === 'held').length, holdId: result.holdId,
        },
      };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/hr/events', tag: 'hr', summary: 'Stored HR events and what became of them',
    permission: 'portal.hr.view', tenantScoped: true,
    query: z.strictObject({ ...pageQuery, status: hrEventView.shape.status.optional(), employeeId: z.string().max(200).optional(), personId: uuid.optional() }),
    responses: { 200: { description: 'A page of events', schema: pageOf(hrEventView) } },
    handler: async ({ query, tenant, deps }) => {
      const page = await listHrEvents(deps.db, tenant.id, query, query.cursor ?? null, query.limit);
      return { status: 200, body: { ...page, items: page.items.map(view) } };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/hr/settings', tag: 'hr', summary: 'HR intake settings (the secret is never shown)',
    permission: 'portal.hr.view', tenantScoped: true,
    responses: { 200: { description: 'Settings', schema: z.object({ disableThreshold: z.int(), thresholdWindowSeconds: z.int(), leaverDeleteAfterSeconds: z.int(), hasSecret: z.boolean() }) } },
    handler: async ({ tenant, deps }) => {
      const { secretCiphertext: _secret, ...settings } = await getHrSettings(deps.db, tenant.id);
      return { status: 200, body: settings };
    },
  }),
  defineRoute({
    method: 'put', path: '/v1/tenants/:tenantId/hr/settings', tag: 'hr',
    summary: 'Set the mass-disable threshold (identities per window) and the leaver retention wait',
    permission: 'portal.hr.manage', tenantScoped: true,
    body: z.strictObject({
      disableThreshold: z.int().min(0).max(1_000_000).optional(),
      thresholdWindowSeconds: z.int().min(1).max(30 * 24 * 3600).optional(),
      leaverDeleteAfterSeconds: z.int().min(1).max(10 * 366 * 24 * 3600).optional(),
    }).meta({ id: 'HrSettings' }),
    responses: { 200: { description: 'Settings', schema: z.object({ disableThreshold: z.int(), thresholdWindowSeconds: z.int(), leaverDeleteAfterSeconds: z.int(), hasSecret: z.boolean() }) } },
    handler: async ({ body, caller, tenant, deps, requestId }) => {
      await deps.db.transaction().execute(async (tx) => {
        await putHrSettings(tx, tenant.id, body);
        await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: 'hr.settings_updated', target: { kind: 'tenant', id: tenant.id }, details: body, requestId });
      });
      const { secretCiphertext: _secret, ...settings } = await getHrSettings(deps.db, tenant.id);
      return { status: 200, body: settings };
    },
  }),
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/hr/secret', tag: 'hr',
    summary: 'Create or rotate the HR webhook signing secret; shown in this response only',
    permission: 'portal.hr.manage', tenantScoped: true,
    responses: { 201: { description: 'The new secret', schema: z.object({ secret: z.string() }) } },
    handler: async ({ caller, tenant, deps, requestId }) => {
      const secret = `hrs_${randomBytes(32).toString('base64url')}`;
      await deps.db.transaction().execute(async (tx) => {
        await putHrSettings(tx, tenant.id, { secretCiphertext: encryptSecret(deps.secretKey, secret) });
        forgetHrSecret(tenant.id);
        await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: 'hr.secret_rotated', target: { kind: 'tenant', id: tenant.id }, details: {}, requestId });
      });
      return { status: 201, body: { secret } };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/hr/holds', tag: 'hr', summary: 'Batches of disabling events held for approval',
    permission: 'portal.hr.view', tenantScoped: true, query: z.strictObject({ status: z.enum(['pending', 'approved', 'rejected']).optional() }),
    responses: { 200: { description: 'Holds', schema: z.object({ items: z.array(z.object({ id: uuid, status: z.string(), reason: z.string(), createdAt: isoDate, decidedAt: isoDate.nullable(), decidedBy: z.string().nullable(), events: z.int() })) }) } },
    handler: async ({ query, tenant, deps }) => ({ status: 200, body: { items: await listHolds(deps.db, tenant.id, query.status) } }),
  }),
  ...(['approve', 'reject'] as const).map((decision) => defineRoute({
    method: 'post', path: `/v1/tenants/:tenantId/hr/holds/:holdId/${decision}`, tag: 'hr',
    summary: decision === 'approve' ? 'Release a hold: its events run' : 'Reject a hold: its events never run',
    permission: 'portal.hr.manage', tenantScoped: true, params: z.strictObject({ holdId: uuid }),
    responses: { 200: { description: 'The hold\'s events', schema: z.object({ holdId: uuid, status: z.string(), events: z.int() }) } },
    handler: async ({ params, caller, tenant, deps, requestId }) => {
      const result = await deps.db.transaction().execute(async (tx) => {
        const decided = await decideHold(tx, tenant.id, params.holdId, decision === 'approve', caller.tokenId);
        if (!decided) throw new ApiError('not_found', `Hold ${params.holdId} was not found.`);
        if (!decided.changed) throw new ApiError('hold_closed', 'The hold has already been decided.');
        await appendAudit(tx, { tenantId: tenant.id, actor: actorOf(caller), action: `hr.hold_${decision === 'approve' ? 'approved' : 'rejected'}`, target: { kind: 'hr_hold', id: params.holdId }, details: { events: decided.events.length }, requestId });
        return decided;
      });
      if (decision === 'approve') deps.hrDispatcher?.enqueue(tenant.id, result.events.map((e) => ({ ...e, status: 'received' as const })));
      return { status: 200, body: { holdId: params.holdId, status: decision === 'approve' ? 'approved' : 'rejected', events: result.events.length } };
    },
  })),
];
