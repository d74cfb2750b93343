import { type Selectable, sql } from 'kysely';
import {
  attributeSpecs, EMAILS_ATTRIBUTE, type ProfileEmail, type ProfileSource, type ProfileValue,
  sameProfileValue, sourceRank, validateEmails, validateProfileValues,
} from '../../workflows/profile-schema';
import type { Executor } from '../database';
import type { Profile } from '../tables/memberships';
import type {
  ProfileAttributeValuesTable, ProfileHistoryOutcome, ProfileResolutionIssuesTable, StoredCandidate, StoredResolution,
} from '../tables/profiles';
import { type Actor, appendAudit } from './audit';
import { isUuid, newId } from './ids';
import { decodeCursor, type Page, toPage } from './pagination';
import { missingPersonIds } from './people';
import { getSourcePrecedence, listCustomAttributes, precedenceOf } from './profile-attributes';

export type { ProfileSource, ProfileEmail };
export { validateProfileValues, validateEmails } from '../../workflows/profile-schema';

/** What one source says about one person's profile at one moment. */
export interface ProfileObservation {
  tenantId: string;
  personId: string;
  source: ProfileSource;
  sourceRecordId: string;
  observedAt: Date;
  /** Built-in fields by API name (camelCase) and custom attributes by key; null clears. */
  values: Record<string, string | number | boolean | null>;
  /** The complete list of the person's email addresses, when the source sends them. */
  emails?: { type: 'work' | 'home' | 'other'; value: string; primary: boolean }[];
  actor: Actor;
  requestId?: string | null;
}

/** What applying an observation did, attribute by attribute. */
export interface ProfileApplyResult {
  applied: string[];
  unchanged: string[];
  /** Resolution issues opened, or updated with a new candidate, by this observation. */
  issuesOpened: string[];
  /** Invalid values: nothing stored for them. */
  rejected: { attribute: string; reason: string }[];
  /** What actually changed (from → to). */
  changes: { attribute: string; from: unknown; to: unknown }[];
}

/** Where the current value of an attribute came from. */
export interface AttributeProvenance {
  value: unknown;
  source: ProfileSource;
  sourceRecordId: string;
  observedAt: Date;
  previousValue: unknown;
  /** The resolution issue whose decision set this value (until the next applied observation). */
  resolutionIssueId: string | null;
  updatedAt: Date;
}

/** A person's identity profile in a tenant: current values, emails, and per-attribute provenance. */
export interface IdentityProfile {
  tenantId: string;
  personId: string;
  /** The flat current values (the projection other readers use); cleared attributes are absent. */
  values: Profile;
  emails: ProfileEmail[];
  /** Provenance per attribute; a value written before provenance existed (at person creation) has none. */
  provenance: Record<string, AttributeProvenance>;
  openIssueIds: string[];
}

/** The person named by an observation does not exist. */
export class ProfileSubjectNotFoundError extends Error {
  constructor(readonly personId: string) {
    super(`person ${personId} does not exist`);
  }
}

type ValueRow = Selectable<ProfileAttributeValuesTable>;
type IssueRow = Selectable<ProfileResolutionIssuesTable>;

function toProvenance(r: ValueRow): AttributeProvenance {
  return {
    value: r.value, source: r.source, sourceRecordId: r.source_record_id, observedAt: r.observed_at, previousValue: r.previous_value,
    resolutionIssueId: r.resolution_issue_id, updatedAt: r.updated_at,
  };
}

/** Reads a person's identity profile in a tenant; null when they have no membership there. */
export async function getIdentityProfile(db: Executor, tenantId: string, personId: string): Promise<IdentityProfile | null> {
  if (!isUuid(personId)) return null;
  const membership = await db.selectFrom('tenant_memberships').select('profile')
    .where('tenant_id', '=', tenantId).where('person_id', '=', personId).executeTakeFirst();
  if (!membership) return null;
  const rows = await db.selectFrom('profile_attribute_values').selectAll()
    .where('tenant_id', '=', tenantId).where('person_id', '=', personId).orderBy('attribute').execute();
  const issues = await db.selectFrom('profile_resolution_issues').select('id')
    .where('tenant_id', '=', tenantId).where('person_id', '=', personId).where('status', '=', 'open').orderBy('id').execute();
  const provenance: Record<string, AttributeProvenance> = {};
  for (const r of rows) provenance[r.attribute] = toProvenance(r);
  const emails = (rows.find((r) => r.attribute === EMAILS_ATTRIBUTE)?.value ?? []) as ProfileEmail[];
  return { tenantId, personId, values: membership.profile, emails, provenance, openIssueIds: issues.map((i) => i.id) };
}

/** Creates the membership if missing and locks it, so observations of one person apply one at a time. */
async function lockMembership(tx: Executor, tenantId: string, personId: string): Promise<Profile> {
  if (!isUuid(personId)) throw new ProfileSubjectNotFoundError(personId);
  // One statement: the membership is created if missing and locked either way (a no-op update takes the row
  // lock, as `for update` would), and nothing comes back when there is no such person.
  const row = await tx.insertInto('tenant_memberships')
    .columns(['id', 'tenant_id', 'person_id', 'profile'])
    .expression((eb) => eb.selectFrom('people')
      .select([sql<string>`${newId()}::uuid`.as('id'), sql<string>`${tenantId}::uuid`.as('tenant_id'), 'people.id', sql<Profile>`'{}'::jsonb`.as('profile')])
      .where('people.id', '=', personId))
    .onConflict((oc) => oc.columns(['tenant_id', 'person_id']).doUpdateSet((eb) => ({ profile: eb.ref('tenant_memberships.profile') })))
    .returning('profile')
    .executeTakeFirst();
  if (!row) throw new ProfileSubjectNotFoundError(personId);
  return { ...row.profile };
}

interface Write {
  tenantId: string;
  personId: string;
  attribute: string;
  value: unknown;
  previous: unknown;
  source: ProfileSource;
  sourceRecordId: string;
  observedAt: Date;
  resolutionIssueId: string | null;
}

/** Records the current value and provenance of attributes (one statement for all of them). */
async function writeProvenance(tx: Executor, ...writes: Write[]): Promise<void> {
  if (writes.length === 0) return;
  const now = new Date();
  await tx.insertInto('profile_attribute_values')
    .values(writes.map((w) => ({
      tenant_id: w.tenantId, person_id: w.personId, attribute: w.attribute, value: JSON.stringify(w.value ?? null), source: w.source,
      source_record_id: w.sourceRecordId, observed_at: w.observedAt, previous_value: JSON.stringify(w.previous ?? null),
      resolution_issue_id: w.resolutionIssueId, updated_at: now,
    })))
    .onConflict((oc) => oc.columns(['tenant_id', 'person_id', 'attribute']).doUpdateSet((eb) => ({
      value: eb.ref('excluded.value'), source: eb.ref('excluded.source'), source_record_id: eb.ref('excluded.source_record_id'),
      observed_at: eb.ref('excluded.observed_at'), previous_value: eb.ref('excluded.previous_value'),
      resolution_issue_id: eb.ref('excluded.resolution_issue_id'), updated_at: eb.ref('excluded.updated_at'),
    })))
    .execute();
}

/** A write as recorded in history: who did it, in which request. */
type IssueWrite = Omit<Write, 'resolutionIssueId'> & { actor: Actor; requestId: string | null };

type HistoryEntry = IssueWrite & { outcome: ProfileHistoryOutcome; issueId: string | null };

/** Appends history entries, in the order given (one statement for all of them). */
async function appendHistory(tx: Executor, ...entries: HistoryEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await tx.insertInto('profile_attribute_history').values(entries.map((h) => ({
    tenant_id: h.tenantId, person_id: h.personId, attribute: h.attribute, outcome: h.outcome, value: JSON.stringify(h.value ?? null),
    previous_value: JSON.stringify(h.previous ?? null), source: h.source, source_record_id: h.sourceRecordId, observed_at: h.observedAt,
    issue_id: h.issueId, actor_kind: h.actor.kind, actor_id: h.actor.id, request_id: h.requestId,
  }))).execute();
}

/** Sets or clears an attribute in the flat projection (emails are not part of it). */
function project(profile: Profile, attribute: string, value: unknown): void {
  if (attribute === EMAILS_ATTRIBUTE) return;
  if (value === null || value === undefined) delete profile[attribute];
  else profile[attribute] = value as ProfileValue;
}

async function saveProjection(tx: Executor, tenantId: string, personId: string, profile: Profile): Promise<void> {
  await tx.updateTable('tenant_memberships').set({ profile: JSON.stringify(profile) })
    .where('tenant_id', '=', tenantId).where('person_id', '=', personId).execute();
}

/**
 * Applies what a source says about a person's profile, attribute by attribute, under the tenant's source
 * precedence. A value from a source at or above the current value's source replaces it (the old value kept
 * as `previousValue`); a disagreeing value from a lower source, or a reference that does not resolve to a
 * person of the tenant, is not applied: it opens (or updates) the one open resolution issue of that person
 * and attribute. Invalid values are rejected and nothing is stored for them. Creates the tenant membership
 * if missing. Idempotent: the same observation again changes nothing and opens no second issue. Run it
 * inside a transaction: it locks the membership row.
 */
export async function applyProfileObservation(tx: Executor, obs: ProfileObservation): Promise<ProfileApplyResult> {
  const result: ProfileApplyResult = { applied: [], unchanged: [], issuesOpened: [], rejected: [], changes: [] };
  const definitions = await listCustomAttributes(tx, obs.tenantId);
  const specs = attributeSpecs(definitions);
  const validated = validateProfileValues(obs.values, definitions);
  result.rejected.push(...validated.errors);
  const incoming = new Map<string, unknown>(Object.entries(validated.values));
  if (obs.emails !== undefined) {
    const emails = validateEmails(obs.emails);
    if (emails.emails) incoming.set(EMAILS_ATTRIBUTE, emails.emails);
    else result.rejected.push(...emails.errors);
  }

  const profile = await lockMembership(tx, obs.tenantId, obs.personId);
  const originalProfile = JSON.stringify(profile);
  if (incoming.size === 0) return result;

  // References must name a person of this tenant (and a person is not their own manager).
  const references = [...incoming].filter(([k, v]) => specs.get(k)?.type === 'reference' && typeof v === 'string') as [string, string][];
  for (const [attribute, value] of references) {
    if (attribute === 'manager' && value === obs.personId) {
      result.rejected.push({ attribute, reason: 'a person cannot be their own manager' });
      incoming.delete(attribute);
    }
  }
  if (incoming.size === 0) return result;
  const unresolved = new Set(await missingPersonIds(tx, obs.tenantId, references.map(([, v]) => v)));

  const [current, openIssues, precedence] = await Promise.all([
    tx.selectFrom('profile_attribute_values').selectAll().where('tenant_id', '=', obs.tenantId).where('person_id', '=', obs.personId)
      .where('attribute', 'in', [...incoming.keys()]).execute(),
    tx.selectFrom('profile_resolution_issues').selectAll().where('tenant_id', '=', obs.tenantId).where('person_id', '=', obs.personId)
      .where('status', '=', 'open').where('attribute', 'in', [...incoming.keys()]).forUpdate().execute(),
    getSourcePrecedence(tx, obs.tenantId),
  ]);
  const currentBy = new Map(current.map((r) => [r.attribute, r]));
  const issueBy = new Map(openIssues.map((r) => [r.attribute, r]));
  const decidedIds = [...new Set(current.map((r) => r.resolution_issue_id).filter((id): id is string => id !== null))];
  const decided = decidedIds.length === 0 ? [] : await tx.selectFrom('profile_resolution_issues').select(['id', 'resolution'])
    .where('id', 'in', decidedIds).execute();
  const rejectedBy = new Map(decided.map((d) => [d.id, d.resolution?.rejected ?? []]));

  const base = { tenantId: obs.tenantId, personId: obs.personId, actor: obs.actor, requestId: obs.requestId ?? null };
  const confirmed: string[] = [];
  // Applied and confirmed values are written together, in one statement each for values and history; what
  // gathered is written before anything else touches those tables, so history keeps the loop's order.
  const values: Write[] = [];
  const entries: HistoryEntry[] = [];
  const writeGathered = async () => {
    await writeProvenance(tx, ...values.splice(0));
    await appendHistory(tx, ...entries.splice(0));
  };
  for (const attribute of [...incoming.keys()].sort()) {
    const value = incoming.get(attribute);
    const cur = currentBy.get(attribute);
    const curValue = cur ? cur.value : attribute === EMAILS_ATTRIBUTE ? [] : (profile[attribute] ?? null);
    const order = precedenceOf(precedence, attribute);
    const write = { ...base, attribute, value, previous: curValue, source: obs.source, sourceRecordId: obs.sourceRecordId, observedAt: obs.observedAt };

    if (typeof value === 'string' && unresolved.has(value) && specs.get(attribute)?.type === 'reference') {
      await writeGathered();
      await raiseIssue(tx, 'unresolved_reference', write, issueBy.get(attribute), result);
      continue;
    }
    if (sameProfileValue(value, curValue)) {
      // Agreement. A higher source confirming the value takes over its provenance, so a lower source can no
      // longer displace it; a value from before provenance existed gets its first provenance.
      const takeOver = cur ? cur.source !== obs.source && sourceRank(order, obs.source) < sourceRank(order, cur.source) : value !== null;
      if (takeOver) {
        values.push({ ...write, resolutionIssueId: null });
        entries.push({ ...write, outcome: 'confirmed', issueId: null });
        confirmed.push(attribute);
      }
      result.unchanged.push(attribute);
      continue;
    }
    // Out of order from the same source: an older observation never replaces a newer one.
    if (cur && cur.source === obs.source && obs.observedAt < cur.observed_at) {
      result.unchanged.push(attribute);
      continue;
    }
    // A decided issue turned this exact value from this source down: it is not raised again.
    if (cur?.resolution_issue_id && (rejectedBy.get(cur.resolution_issue_id) ?? []).some((r) => r.source === obs.source && sameProfileValue(r.value, value))) {
      result.unchanged.push(attribute);
      continue;
    }
    if (!cur || sourceRank(order, obs.source) <= sourceRank(order, cur.source)) {
      values.push({ ...write, resolutionIssueId: null });
      entries.push({ ...write, outcome: 'applied', issueId: null });
      project(profile, attribute, value);
      result.applied.push(attribute);
      result.changes.push({ attribute, from: curValue, to: value });
      const issue = issueBy.get(attribute);
      if (issue && issue.candidates.every((c) => sameProfileValue(c.value, value))) {
        await writeGathered();
        await closeIssue(tx, issue, { choice: 'superseded', value, source: obs.source, comment: null, actor: obs.actor, rejected: [] }, base.requestId);
      }
      continue;
    }
    await writeGathered();
    await raiseIssue(tx, 'source_conflict', write, issueBy.get(attribute), result);
  }
  await writeGathered();

  if (JSON.stringify(profile) !== originalProfile) await saveProjection(tx, obs.tenantId, obs.personId, profile);
  if (result.changes.length > 0 || confirmed.length > 0) {
    await appendAudit(tx, {
      tenantId: obs.tenantId, actor: obs.actor, action: 'profile.updated', target: { kind: 'person', id: obs.personId }, requestId: base.requestId,
      details: { source: obs.source, sourceRecordId: obs.sourceRecordId, changed: result.changes.map((c) => c.attribute), confirmed },
    });
  }
  return result;
}

/** Opens the attribute's resolution issue, or adds this source's candidate to the open one. */
async function raiseIssue(
  tx: Executor, kind: 'source_conflict' | 'unresolved_reference', w: IssueWrite, open: IssueRow | undefined, result: ProfileApplyResult,
): Promise<void> {
  const candidate: StoredCandidate = { source: w.source, sourceRecordId: w.sourceRecordId, observedAt: w.observedAt.toISOString(), value: w.value };
  const audit = { tenantId: w.tenantId, actor: w.actor, requestId: w.requestId };
  if (open) {
    const same = open.candidates.find((c) => c.source === w.source);
    // The same observation again, or an older one from that source: nothing to add.
    if (same && (new Date(same.observedAt) > w.observedAt || (same.sourceRecordId === w.sourceRecordId && sameProfileValue(same.value, w.value)))) {
      result.unchanged.push(w.attribute);
      return;
    }
    const candidates = [...open.candidates.filter((c) => c.source !== w.source), candidate];
    await tx.updateTable('profile_resolution_issues').set({ kind, candidates: JSON.stringify(candidates), updated_at: new Date() })
      .where('id', '=', open.id).execute();
    await appendHistory(tx, { ...w, outcome: kind === 'source_conflict' ? 'conflict' : 'unresolved_reference', issueId: open.id });
    await appendAudit(tx, { ...audit, action: 'profile.issue_updated', target: { kind: 'resolution_issue', id: open.id }, details: { personId: w.personId, attribute: w.attribute, kind, source: w.source, sourceRecordId: w.sourceRecordId } });
    result.issuesOpened.push(open.id);
    return;
  }
  const id = newId();
  await tx.insertInto('profile_resolution_issues').values({
    id, tenant_id: w.tenantId, person_id: w.personId, attribute: w.attribute, kind, status: 'open', candidates: JSON.stringify([candidate]), resolution: null, resolved_at: null,
  }).execute();
  await appendHistory(tx, { ...w, outcome: kind === 'source_conflict' ? 'conflict' : 'unresolved_reference', issueId: id });
  await appendAudit(tx, { ...audit, action: 'profile.issue_opened', target: { kind: 'resolution_issue', id }, details: { personId: w.personId, attribute: w.attribute, kind, source: w.source, sourceRecordId: w.sourceRecordId } });
  result.issuesOpened.push(id);
}

async function closeIssue(tx: Executor, issue: IssueRow, resolution: StoredResolution, requestId: string | null): Promise<void> {
  await tx.updateTable('profile_resolution_issues')
    .set({ status: 'resolved', resolution: JSON.stringify(resolution), resolved_at: new Date(), updated_at: new Date() })
    .where('id', '=', issue.id).execute();
  await appendAudit(tx, {
    tenantId: issue.tenant_id, actor: resolution.actor, action: 'profile.issue_resolved', target: { kind: 'resolution_issue', id: issue.id }, requestId,
    details: { personId: issue.person_id, attribute: issue.attribute, choice: resolution.choice, source: resolution.source },
  });
}

/** A resolution issue as the API shows it, with the attribute's current value and provenance. */
export interface ResolutionIssue {
  id: string;
  tenantId: string;
  personId: string;
  attribute: string;
  kind: 'source_conflict' | 'unresolved_reference';
  status: 'open' | 'resolved';
  current: { value: unknown; source: ProfileSource | null; sourceRecordId: string | null; observedAt: Date | null };
  candidates: { source: ProfileSource; sourceRecordId: string; observedAt: Date; value: unknown }[];
  resolution: Omit<StoredResolution, 'rejected'> | null;
  openedAt: Date;
  updatedAt: Date;
  resolvedAt: Date | null;
}

function selectIssues(db: Executor, tenantId: string) {
  return db.selectFrom('profile_resolution_issues as i')
    .leftJoin('profile_attribute_values as v', (j) => j.onRef('v.tenant_id', '=', 'i.tenant_id').onRef('v.person_id', '=', 'i.person_id').onRef('v.attribute', '=', 'i.attribute'))
    .leftJoin('tenant_memberships as m', (j) => j.onRef('m.tenant_id', '=', 'i.tenant_id').onRef('m.person_id', '=', 'i.person_id'))
    .selectAll('i')
    .select(['v.value as current_value', 'v.source as current_source', 'v.source_record_id as current_record', 'v.observed_at as current_observed', 'm.profile'])
    .where('i.tenant_id', '=', tenantId);
}

type IssueSelection = IssueRow & { current_value: unknown; current_source: ProfileSource | null; current_record: string | null; current_observed: Date | null; profile: Profile | null };

function toIssue(r: IssueSelection): ResolutionIssue {
  const legacy = r.attribute === EMAILS_ATTRIBUTE ? [] : (r.profile?.[r.attribute] ?? null);
  const { rejected: _kept, ...resolution } = r.resolution ?? { rejected: [] };
  return {
    id: r.id, tenantId: r.tenant_id, personId: r.person_id, attribute: r.attribute, kind: r.kind, status: r.status,
    current: { value: r.current_source ? r.current_value : legacy, source: r.current_source, sourceRecordId: r.current_record, observedAt: r.current_observed },
    candidates: r.candidates.map((c) => ({ ...c, observedAt: new Date(c.observedAt) })),
    resolution: r.resolution ? resolution as Omit<StoredResolution, 'rejected'> : null,
    openedAt: r.opened_at, updatedAt: r.updated_at, resolvedAt: r.resolved_at,
  };
}

export async function getResolutionIssue(db: Executor, tenantId: string, id: string): Promise<ResolutionIssue | null> {
  if (!isUuid(id)) return null;
  const row = await selectIssues(db, tenantId).where('i.id', '=', id).executeTakeFirst();
  return row ? toIssue(row as IssueSelection) : null;
}

export interface ResolutionIssueFilter {
  status?: 'open' | 'resolved' | undefined;
  personId?: string | undefined;
  attribute?: string | undefined;
}

/** Lists a tenant's resolution issues, oldest first. */
export async function listResolutionIssues(
  db: Executor, tenantId: string, filter: ResolutionIssueFilter, cursor: string | null, limit: number,
): Promise<Page<ResolutionIssue>> {
  let q = selectIssues(db, tenantId);
  if (filter.status) q = q.where('i.status', '=', filter.status);
  if (filter.personId) q = q.where('i.person_id', '=', filter.personId);
  if (filter.attribute) q = q.where('i.attribute', '=', filter.attribute);
  if (cursor) q = q.where('i.id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('i.id').limit(limit + 1).execute();
  return toPage(rows as IssueSelection[], limit, (r) => r.id, toIssue);
}

/** How an issue is decided: one of its candidates, a value typed by the operator, or the current value. */
export type ResolutionChoice = { candidate: number } | { value: unknown } | { keepCurrent: true };

export class IssueAlreadyResolvedError extends Error {}

/** The chosen value cannot be applied (invalid, or a reference that does not resolve). */
export class ResolutionValueError extends Error {
  constructor(readonly attribute: string, readonly reason: string, readonly kind: 'invalid' | 'unresolved_reference' | 'no_such_candidate') {
    super(`${attribute} ${reason}`);
  }
}

/**
 * Decides an open issue and applies the chosen value. A chosen candidate keeps its own provenance (its
 * source, record id and observed time); a value typed by the operator gets source `manual` with record id
 * `resolution:<issue>`; keeping the current value changes no value. The (source, value) pairs the decision
 * turned down are remembered on the resulting value, so the same source re-sending the same value does not
 * reopen the issue; any other value from any source is processed normally.
 */
export async function resolveIssue(
  tx: Executor, input: { tenantId: string; issueId: string; choice: ResolutionChoice; comment: string | null; actor: Actor; requestId: string | null },
): Promise<ResolutionIssue | null> {
  if (!isUuid(input.issueId)) return null;
  const found = await tx.selectFrom('profile_resolution_issues').select(['person_id']).where('tenant_id', '=', input.tenantId).where('id', '=', input.issueId).executeTakeFirst();
  if (!found) return null;
  const profile = await lockMembership(tx, input.tenantId, found.person_id);
  const issue = await tx.selectFrom('profile_resolution_issues').selectAll().where('id', '=', input.issueId).forUpdate().executeTakeFirstOrThrow();
  if (issue.status !== 'open') throw new IssueAlreadyResolvedError(`issue ${issue.id} is already resolved`);
  const cur = await tx.selectFrom('profile_attribute_values').selectAll()
    .where('tenant_id', '=', issue.tenant_id).where('person_id', '=', issue.person_id).where('attribute', '=', issue.attribute).executeTakeFirst();
  const curValue = cur ? cur.value : issue.attribute === EMAILS_ATTRIBUTE ? [] : (profile[issue.attribute] ?? null);

  let chosen: { value: unknown; source: ProfileSource; sourceRecordId: string; observedAt: Date } | null;
  let choiceKind: StoredResolution['choice'];
  if ('candidate' in input.choice) {
    const c = issue.candidates[input.choice.candidate];
    if (!c) throw new ResolutionValueError('candidate', `must be 0 to ${issue.candidates.length - 1}`, 'no_such_candidate');
    chosen = { value: c.value, source: c.source, sourceRecordId: c.sourceRecordId, observedAt: new Date(c.observedAt) };
    choiceKind = 'candidate';
  } else if ('value' in input.choice) {
    const value = await checkManualValue(tx, input.tenantId, issue.person_id, issue.attribute, input.choice.value);
    chosen = { value, source: 'manual', sourceRecordId: `resolution:${issue.id}`, observedAt: new Date() };
    choiceKind = 'manual_value';
  } else {
    chosen = null;
    choiceKind = 'keep_current';
  }
  if (chosen && typeof chosen.value === 'string' && (await referenceSpec(tx, input.tenantId, issue.attribute))) {
    if ((await missingPersonIds(tx, input.tenantId, [chosen.value])).length > 0) {
      throw new ResolutionValueError(issue.attribute, `${chosen.value} is not a person of this tenant`, 'unresolved_reference');
    }
  }

  const finalValue = chosen ? chosen.value : curValue;
  const rejected: StoredResolution['rejected'] = issue.candidates
    .filter((c, i) => !('candidate' in input.choice && input.choice.candidate === i) && !sameProfileValue(c.value, finalValue))
    .map((c) => ({ source: c.source, value: c.value }));
  if (cur && !sameProfileValue(cur.value, finalValue)) rejected.push({ source: cur.source, value: cur.value });

  const base = { tenantId: issue.tenant_id, personId: issue.person_id, attribute: issue.attribute, actor: input.actor, requestId: input.requestId };
  if (chosen) {
    await writeProvenance(tx, { ...base, ...chosen, previous: curValue, resolutionIssueId: issue.id });
    await appendHistory(tx, { ...base, ...chosen, previous: curValue, outcome: 'resolved', issueId: issue.id });
    if (!sameProfileValue(chosen.value, curValue)) {
      project(profile, issue.attribute, chosen.value);
      await saveProjection(tx, issue.tenant_id, issue.person_id, profile);
      await appendAudit(tx, {
        tenantId: issue.tenant_id, actor: input.actor, action: 'profile.updated', target: { kind: 'person', id: issue.person_id }, requestId: input.requestId,
        details: { source: chosen.source, sourceRecordId: chosen.sourceRecordId, changed: [issue.attribute], confirmed: [], resolutionIssueId: issue.id },
      });
    }
  } else if (cur) {
    await tx.updateTable('profile_attribute_values').set({ resolution_issue_id: issue.id, updated_at: new Date() })
      .where('tenant_id', '=', issue.tenant_id).where('person_id', '=', issue.person_id).where('attribute', '=', issue.attribute).execute();
  }
  await closeIssue(tx, issue, { choice: choiceKind, value: finalValue, source: chosen?.source ?? cur?.source ?? null, comment: input.comment, actor: input.actor, rejected }, input.requestId);
  return getResolutionIssue(tx, input.tenantId, issue.id);
}

async function referenceSpec(tx: Executor, tenantId: string, attribute: string): Promise<boolean> {
  const spec = attributeSpecs(await listCustomAttributes(tx, tenantId)).get(attribute);
  return spec?.type === 'reference';
}

/** Validates an operator-typed value for an attribute (scalar, or a list of emails). */
async function checkManualValue(tx: Executor, tenantId: string, personId: string, attribute: string, raw: unknown): Promise<unknown> {
  if (attribute === EMAILS_ATTRIBUTE) {
    if (!Array.isArray(raw)) throw new ResolutionValueError(attribute, 'must be a list of email addresses', 'invalid');
    const checked = validateEmails(raw);
    if (!checked.emails) throw new ResolutionValueError(checked.errors[0]!.attribute, checked.errors[0]!.reason, 'invalid');
    return checked.emails;
  }
  const checked = validateProfileValues({ [attribute]: raw }, await listCustomAttributes(tx, tenantId));
  const error = checked.errors[0];
  if (error) throw new ResolutionValueError(error.attribute, error.reason, 'invalid');
  const value = checked.values[attribute];
  if (attribute === 'manager' && value === personId) throw new ResolutionValueError(attribute, 'a person cannot be their own manager', 'invalid');
  return value;
}

/** One entry of an attribute's history. */
export interface ProfileHistoryEntry {
  id: string;
  attribute: string;
  outcome: ProfileHistoryOutcome;
  value: unknown;
  previousValue: unknown;
  source: ProfileSource;
  sourceRecordId: string;
  observedAt: Date;
  issueId: string | null;
  actor: Actor;
  requestId: string | null;
  recordedAt: Date;
}

/** A person's profile history in a tenant, oldest first. */
export async function listProfileHistory(
  db: Executor, tenantId: string, personId: string, filter: { attribute?: string | undefined }, cursor: string | null, limit: number,
): Promise<Page<ProfileHistoryEntry>> {
  let q = db.selectFrom('profile_attribute_history').selectAll().where('tenant_id', '=', tenantId).where('person_id', '=', personId);
  if (filter.attribute) q = q.where('attribute', '=', filter.attribute);
  if (cursor) q = q.where('id', '>', decodeCursor(cursor, (k) => /^\d{1,19}$/.test(k)));
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => String(r.id), (r) => ({
    id: String(r.id), attribute: r.attribute, outcome: r.outcome, value: r.value, previousValue: r.previous_value, source: r.source,
    sourceRecordId: r.source_record_id, observedAt: r.observed_at, issueId: r.issue_id, actor: { kind: r.actor_kind, id: r.actor_id },
    requestId: r.request_id, recordedAt: r.recorded_at,
  }));
}
