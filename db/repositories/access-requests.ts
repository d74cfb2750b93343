import { sql } from 'kysely';
import { type BundleItem, isNativeItem } from '../../workflows/access-policy';
import {
  accessRequestWorkflowId, type AccessRequestInput, type DecisionRecord, type GrantRequestInput, type RequestStatus,
} from '../../workflows/access-request.types';
import { grantEdge, lockTenantAccess } from './access-edges';
import { syncDerivedGroupEdges } from './group-members';
import type { Executor } from '../database';
import type { AccessRequestRow } from '../tables/access-requests';
import { type Actor, appendAudits, gatheringAudit } from './audit';
import { canonicalHash } from './canonical-json';
import { recordedPlan, recordRequestPlan, type RecordedPlan, requestPlanId } from './grant-plans';
import { isUuid } from './ids';
import { decodeCursor, type Page, toPage } from './pagination';
import { planWorkflowId, recordedPlanGraph } from './plans';

export interface AccessRequest {
  id: string;
  tenantId: string;
  bundleId: string;
  bundleVersion: number;
  beneficiaryPersonId: string;
  submittedByPersonId: string | null;
  justification: string;
  durationSeconds: number | null;
  status: RequestStatus;
  currentStage: number | null;
  grantedAt: Date | null;
  grantExpiresAt: Date | null;
  workflowId: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface RequestEvent {
  id: string;
  occurredAt: Date;
  kind: string;
  stage: number | null;
  actor: { kind: string; id: string };
  bundleVersion: number;
  details: Record<string, unknown>;
}

function toRequest(r: AccessRequestRow): AccessRequest {
  return {
    id: r.id, tenantId: r.tenant_id, bundleId: r.bundle_id, bundleVersion: r.bundle_version, beneficiaryPersonId: r.beneficiary_person_id,
    submittedByPersonId: r.submitted_by_person_id, justification: r.justification, durationSeconds: r.duration_seconds, status: r.status,
    currentStage: r.current_stage, grantedAt: r.granted_at, grantExpiresAt: r.grant_expires_at, workflowId: r.workflow_id,
    createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** The edge reference of everything a request grants. */
export const requestGrantRef = (requestId: string) => `access_request:${requestId}`;

export interface RequestEventInput {
  tenantId: string;
  requestId: string;
  bundleVersion: number;
  kind: string;
  stage: number | null;
  actor: Actor;
  details?: Record<string, unknown>;
  /** Identifies the event within the request, so a retried write is a no-op. */
  dedupeKey: string;
  requestIdOfHttp?: string | null;
}

/**
 * Appends a history event and its audit event, once: a second write with the same dedupe key changes
 * nothing and returns false.
 */
export async function appendRequestEvent(tx: Executor, e: RequestEventInput): Promise<boolean> {
  return (await appendRequestEvents(tx, [e]))[0] as boolean;
}

/**
 * Appends history events, in order, in one statement, and the audit events of those not written before
 * (dedupe key) in a second. Returns, per event, whether this call wrote it.
 */
export async function appendRequestEvents(tx: Executor, events: readonly RequestEventInput[]): Promise<boolean[]> {
  if (events.length === 0) return [];
  const rows = await tx.insertInto('access_request_events')
    .values(events.map((e) => ({
      tenant_id: e.tenantId, request_id: e.requestId, kind: e.kind, stage: e.stage, actor_kind: e.actor.kind, actor_id: e.actor.id,
      bundle_version: e.bundleVersion, details: JSON.stringify(e.details ?? {}), dedupe_key: e.dedupeKey,
    })))
    .onConflict((oc) => oc.columns(['request_id', 'dedupe_key']).doNothing())
    .returning(['request_id', 'dedupe_key']).execute();
  const written = new Set(rows.map((r) => `${r.request_id}|${r.dedupe_key}`));
  // The first of two copies in one list is the one written.
  const fresh = events.map((e) => written.delete(`${e.requestId}|${e.dedupeKey}`));
  await appendAudits(tx, events.filter((_, i) => fresh[i]).map((e) => ({
    tenantId: e.tenantId, actor: e.actor, action: `access_request.${e.kind}`, target: { kind: 'access_request', id: e.requestId },
    details: { stage: e.stage, bundleVersion: e.bundleVersion, ...(e.details ?? {}) }, requestId: e.requestIdOfHttp ?? null,
  })));
  return fresh;
}

/** What a submission asks for, as its body names it (the beneficiary resolved, an omitted duration null). */
export interface SubmissionContent {
  bundleId: string;
  beneficiaryPersonId: string;
  justification: string;
  durationSeconds: number | null;
}

/**
 * SHA-256 over the canonical JSON of a submission's content: two submissions under one Idempotency-Key are
 * the same request only when these are equal.
 */
export function submissionHash(content: SubmissionContent): string {
  return canonicalHash(content);
}

/** Another open or granted request for the same bundle and person holds the live slot; nothing was written. */
export class RequestExistsError extends Error {}

/** The partial unique index that allows one open or granted request per bundle and person. */
const LIVE_REQUEST_INDEX = 'access_requests_live_uq';

function isLiveRequestClash(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && e.constraint === LIVE_REQUEST_INDEX;
}

/**
 * Records a submitted request, unless it is already recorded (a retried submit, or the workflow's own
 * first activity after a lost API write). Returns true when this call recorded it; throws
 * RequestExistsError when another open or granted request for the bundle and person exists.
 */
export async function recordSubmittedRequest(tx: Executor, input: AccessRequestInput, workflowId: string, httpRequestId: string | null): Promise<boolean> {
  const row = await tx.insertInto('access_requests')
    .values({
      id: input.requestId, tenant_id: input.tenantId, bundle_id: input.bundleId, bundle_version: input.bundleVersion,
      beneficiary_person_id: input.beneficiaryPersonId, submitted_by_person_id: input.submittedByPersonId,
      submitted_by_token_id: input.submittedByTokenId, justification: input.justification, duration_seconds: input.durationSeconds,
      status: 'pending', current_stage: null, granted_at: null, grant_expires_at: null, workflow_id: workflowId,
      submission_hash: input.submissionHash ?? null,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id').executeTakeFirst()
    .catch((err: unknown) => {
      if (isLiveRequestClash(err)) throw new RequestExistsError(`another open or granted request exists for bundle ${input.bundleId} and person ${input.beneficiaryPersonId}`);
      throw err;
    });
  if (!row) return false;
  const actor: Actor = input.submittedByPersonId ? { kind: 'person', id: input.submittedByPersonId } : { kind: 'api_token', id: input.submittedByTokenId };
  await appendRequestEvent(tx, {
    tenantId: input.tenantId, requestId: input.requestId, bundleVersion: input.bundleVersion, kind: 'submitted', stage: null, actor,
    details: { bundleId: input.bundleId, beneficiaryPersonId: input.beneficiaryPersonId, justification: input.justification, durationSeconds: input.durationSeconds },
    dedupeKey: 'submitted', requestIdOfHttp: httpRequestId,
  });
  return true;
}

export async function getRequest(db: Executor, tenantId: string, id: string): Promise<AccessRequest | null> {
  return (await getSubmittedRequest(db, tenantId, id))?.request ?? null;
}

/** A request with the hash of what its submission asked for (null when recorded before hashes existed). */
export async function getSubmittedRequest(db: Executor, tenantId: string, id: string): Promise<{ request: AccessRequest; submissionHash: string | null } | null> {
  if (!isUuid(id)) return null;
  const row = await db.selectFrom('access_requests').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return row ? { request: toRequest(row), submissionHash: row.submission_hash } : null;
}

/** Locks a request row for the rest of the transaction. */
export async function lockRequest(tx: Executor, tenantId: string, id: string): Promise<AccessRequest | null> {
  const row = await tx.selectFrom('access_requests').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).forUpdate().executeTakeFirst();
  return row ? toRequest(row) : null;
}

/** A request for the same bundle and person that is still open or granted. */
export async function findLiveRequest(db: Executor, tenantId: string, bundleId: string, personId: string): Promise<AccessRequest | null> {
  const row = await db.selectFrom('access_requests').selectAll()
    .where('tenant_id', '=', tenantId).where('bundle_id', '=', bundleId).where('beneficiary_person_id', '=', personId)
    .where('status', 'in', ['pending', 'approved', 'granted']).orderBy('id', 'desc').executeTakeFirst();
  return row ? toRequest(row) : null;
}

export interface RequestFilter {
  status?: RequestStatus | undefined;
  bundleId?: string | undefined;
  beneficiaryPersonId?: string | undefined;
  /** Only requests this person is the beneficiary or submitter of. */
  involvingPersonId?: string | undefined;
}

export async function listRequests(db: Executor, tenantId: string, f: RequestFilter, cursor: string | null, limit: number): Promise<Page<AccessRequest>> {
  let q = db.selectFrom('access_requests').selectAll().where('tenant_id', '=', tenantId);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.bundleId) q = q.where('bundle_id', '=', f.bundleId);
  if (f.beneficiaryPersonId) q = q.where('beneficiary_person_id', '=', f.beneficiaryPersonId);
  const involving = f.involvingPersonId;
  if (involving) q = q.where((eb) => eb.or([eb('beneficiary_person_id', '=', involving), eb('submitted_by_person_id', '=', involving)]));
  if (cursor) q = q.where('id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toRequest);
}

/**
 * Requests waiting on this person's decision: pending, at a stage they approve and have not decided. Once
 * a stage is escalated only its escalation approvers are asked.
 */
export async function listPendingApprovals(db: Executor, tenantId: string, personId: string, cursor: string | null, limit: number): Promise<Page<AccessRequest>> {
  let q = db.selectFrom('access_requests as r')
    .innerJoin('access_request_approvers as a', (j) => j.onRef('a.request_id', '=', 'r.id').onRef('a.stage', '=', 'r.current_stage'))
    .selectAll('r')
    .where('r.tenant_id', '=', tenantId).where('r.status', '=', 'pending')
    .where('a.person_id', '=', personId).where('a.decision', 'is', null)
    .where(sql<boolean>`a.escalation = exists (select 1 from access_request_approvers e
      where e.request_id = r.id and e.stage = r.current_stage and e.escalation)`);
  if (cursor) q = q.where('r.id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('r.id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toRequest);
}

/** Whether a person is (or was) an approver of any stage of a request. */
export async function isApproverOf(db: Executor, requestId: string, personId: string): Promise<boolean> {
  const row = await db.selectFrom('access_request_approvers').select('person_id')
    .where('request_id', '=', requestId).where('person_id', '=', personId).executeTakeFirst();
  return row !== undefined;
}

/** A request's history, oldest first. */
export async function listRequestEvents(db: Executor, tenantId: string, requestId: string): Promise<RequestEvent[]> {
  const rows = await db.selectFrom('access_request_events').selectAll()
    .where('tenant_id', '=', tenantId).where('request_id', '=', requestId).orderBy('id').execute();
  return rows.map((r) => ({
    id: String(r.id), occurredAt: r.occurred_at, kind: r.kind, stage: r.stage, actor: { kind: r.actor_kind, id: r.actor_id },
    bundleVersion: r.bundle_version, details: r.details,
  }));
}

/** Records one approver's decision: the approver row and a history event, once. */
export async function writeDecision(tx: Executor, input: DecisionRecord): Promise<void> {
  await markDecision(tx, input);
  await appendRequestEvent(tx, decisionEvent(input));
}

/** Sets the approver row's decision. */
async function markDecision(tx: Executor, input: DecisionRecord): Promise<void> {
  await tx.updateTable('access_request_approvers').set({ decision: input.decision })
    .where('request_id', '=', input.requestId).where('stage', '=', input.stage).where('person_id', '=', input.personId).execute();
}

function decisionEvent(input: DecisionRecord): RequestEventInput {
  return {
    ...input, kind: 'decision', stage: input.stage, actor: { kind: 'person', id: input.personId },
    dedupeKey: `decision:${input.stage}:${input.personId}`, details: { decision: input.decision, comment: input.comment },
  };
}

export interface GrantResult {
  grantedAt: string;
  expiresAt: string | null;
  /** The grant's provisioning plan (null for a grant recorded before plans existed). */
  plan: RecordedPlan | null;
}

/** The plan recorded for a request's grant or revocation, or null. */
export async function recordedRequestPlan(db: Executor, requestId: string, direction: 'grant' | 'revoke'): Promise<RecordedPlan | null> {
  return recordedPlan(db, requestPlanId(requestId, direction));
}

/**
 * The grant recorded for a request (granted, or granted and since revoked), with its plan, in one query;
 * null while it is not granted. Whichever transaction granted it recorded the deciding approval with it.
 */
export async function recordedGrant(db: Executor, tenantId: string, requestId: string): Promise<GrantResult | null> {
  const planId = requestPlanId(requestId, 'grant');
  const row = await db.selectFrom('access_requests as r')
    .leftJoin('provisioning_plans as p', (j) => j.on('p.id', '=', planId))
    .select(['r.status', 'r.granted_at', 'r.grant_expires_at', 'p.id as plan_id'])
    .select((eb) => eb.exists(eb.selectFrom('provisioning_plan_steps as s').select('s.plan_id')
      .where('s.plan_id', '=', planId).where('s.target_system', '=', 'connector')).as('needs_execution'))
    .where('r.tenant_id', '=', tenantId).where('r.id', '=', requestId).executeTakeFirst();
  if (!row || (row.status !== 'granted' && row.status !== 'revoked') || !row.granted_at) return null;
  const needsExecution = Boolean(row.needs_execution);
  // Downstream steps to run: the graph their first run is given while the plan is recorded running.
  const graph = row.plan_id && needsExecution ? (await recordedPlanGraph(db, planId))?.graph ?? null : null;
  return {
    grantedAt: row.granted_at.toISOString(), expiresAt: row.grant_expires_at?.toISOString() ?? null,
    plan: row.plan_id ? { planId, workflowId: planWorkflowId(planId), needsExecution, ...(graph ? { graph } : {}) } : null,
  };
}

/** The request ended (denied, cancelled, expired) before its grant could commit; nothing was written. */
export class RequestClosedError extends Error {
  constructor(readonly requestId: string, readonly status: RequestStatus) {
    super(`access request ${requestId} is ${status}`);
  }
}

/**
 * Commits an approved request's grant: the deciding approver's decision, the `approved` and `granted`
 * history, the access edges and the grant's provisioning plan, once (a second call finds it granted and
 * changes nothing). A request that ended otherwise is refused with RequestClosedError, unchanged. It sits
 * on the approve-to-grant path, so it keeps its round trips few: the history events go in one statement at
 * the end and every audit event in one more (`gatheringAudit`).
 */
export async function grantApprovedRequest(tx: Executor, input: GrantRequestInput): Promise<GrantResult> {
  return gatheringAudit(tx, async () => {
    const request = await lockRequest(tx, input.tenantId, input.requestId);
    if (!request) throw new Error(`access request ${input.requestId} is not recorded`);
    if (request.status === 'granted' || request.status === 'revoked') {
      if (input.decision) await writeDecision(tx, input.decision);
      return (await recordedGrant(tx, input.tenantId, input.requestId)) as GrantResult;
    }
    // Denied, cancelled or expired is final: a decision that raced the close must not grant over it.
    if (request.status !== 'pending' && request.status !== 'approved') throw new RequestClosedError(request.id, request.status);
    const actor: Actor = { kind: 'workflow', id: accessRequestWorkflowId(input.requestId) };
    const history: RequestEventInput[] = [];
    if (input.decision) {
      await markDecision(tx, input.decision);
      history.push(decisionEvent(input.decision));
    }
    history.push({ ...input, kind: 'approved', stage: input.stage, actor, dedupeKey: 'approved' });
    await lockTenantAccess(tx, input.tenantId);
    let edgesCreated = 0;
    const native: { item: BundleItem; changed: boolean }[] = [];
    for (const item of input.items) {
      if (!isNativeItem(item)) continue;
      const { created } = await grantEdge(tx, {
        tenantId: input.tenantId, personId: input.beneficiaryPersonId, targetKind: item.kind, targetId: item.id,
        source: 'iga_grant', trust: 'governed', sourceRef: requestGrantRef(input.requestId),
      });
      native.push({ item, changed: created });
      if (created) edgesCreated += 1;
    }
    if (input.items.some((i) => i.kind === 'group')) await syncDerivedGroupEdges(tx, input.tenantId, [input.beneficiaryPersonId]);
    const grantedAt = new Date();
    const expiresAt = input.durationSeconds === null ? null : new Date(grantedAt.getTime() + input.durationSeconds * 1000);
    await tx.updateTable('access_requests').set({ status: 'granted', granted_at: grantedAt, grant_expires_at: expiresAt, current_stage: null, updated_at: grantedAt })
      .where('id', '=', input.requestId).execute();
    history.push({
      ...input, kind: 'granted', stage: null, actor, dedupeKey: 'granted',
      details: { items: input.items, edgesCreated, expiresAt: expiresAt?.toISOString() ?? null },
    });
    await appendRequestEvents(tx, history);
    // The grant's provisioning plan, in the same transaction: its Portal-native steps are the edges above.
    const plan = await recordRequestPlan(tx, {
      tenantId: input.tenantId, requestId: input.requestId, personId: input.beneficiaryPersonId, items: input.items, native, direction: 'grant', actor,
    });
    return { grantedAt: grantedAt.toISOString(), expiresAt: expiresAt?.toISOString() ?? null, plan };
  });
}
