import type { Db, Executor } from '../db/database';
import { lockTenantAccess, revokeEdge, revokeEdgesBySourceRef } from '../db/repositories/access-edges';
import { recordRequestPlan, type RecordedPlan } from '../db/repositories/grant-plans';
import { groupMemberPeople, managerOf } from '../db/repositories/access-bundles';
import {
  appendRequestEvent, type GrantResult, grantApprovedRequest, lockRequest, recordedGrant, recordedRequestPlan, recordSubmittedRequest, RequestClosedError,
  RequestExistsError, requestGrantRef, writeDecision,
} from '../db/repositories/access-requests';
import type { Actor } from '../db/repositories/audit';
import { syncDerivedGroupEdges } from '../db/repositories/group-members';
import { missingPersonIds } from '../db/repositories/people';
import { ApplicationFailure } from '@temporalio/activity';
import { sql } from 'kysely';
import { type ApproverSpec, type BundleItem, eligibleApprovers, isNativeItem, type Quorum } from '../workflows/access-policy';
import {
  accessRequestWorkflowId, type AccessRequestInput, type DecisionRecord, type GrantRequestInput, type RequestStatus,
} from '../workflows/access-request.types';
import { FailureTypes } from '../workflows/failures';

interface RequestRef {
  tenantId: string;
  requestId: string;
  bundleVersion: number;
}

export interface OpenStageInput extends RequestRef {
  stage: number;
  approvers: ApproverSpec[];
  quorum: Quorum;
  escalation: boolean;
  ownerPersonId: string;
  beneficiaryPersonId: string;
  submittedByPersonId: string | null;
  decidedEarlier: string[];
  approverOncePerRequest: boolean;
}

const workflowActor = (requestId: string): Actor => ({ kind: 'workflow', id: accessRequestWorkflowId(requestId) });

async function requireRequest(tx: Executor, ref: RequestRef) {
  const request = await lockRequest(tx, ref.tenantId, ref.requestId);
  if (!request) throw ApplicationFailure.nonRetryable(`access request ${ref.requestId} is not recorded`, FailureTypes.NotFound);
  return request;
}

/** Resolves approver specs to people of the tenant. */
async function resolveApprovers(db: Executor, input: OpenStageInput): Promise<string[]> {
  const people: string[] = [];
  const groups: string[] = [];
  for (const spec of input.approvers) {
    switch (spec.type) {
      case 'person': people.push(spec.personId); break;
      case 'group': groups.push(spec.groupId); break;
      case 'bundle_owner': people.push(input.ownerPersonId); break;
      case 'manager': {
        const manager = await managerOf(db, input.tenantId, input.beneficiaryPersonId);
        if (manager) people.push(manager);
        break;
      }
    }
  }
  const missing = new Set(await missingPersonIds(db, input.tenantId, people));
  return [...people.filter((p) => !missing.has(p)), ...(await groupMemberPeople(db, input.tenantId, groups))];
}

/** Factory of the access-request activities over a database. */
export function accessRequestActivities(db: Db) {
  return {
    /** Records the submission if the API's own write is missing (idempotent). */
    async recordSubmission(input: AccessRequestInput): Promise<void> {
      try {
        await db.transaction().execute((tx) => recordSubmittedRequest(tx, input, accessRequestWorkflowId(input.requestId), null));
      } catch (err) {
        // A concurrent submission for the same bundle and person won: this run's request was refused (the API
        // answered request_exists and ends the run), so it must not be recorded.
        if (err instanceof RequestExistsError) throw ApplicationFailure.nonRetryable(err.message, FailureTypes.Conflict);
        throw err;
      }
    },

    /**
     * Resolves who may decide a stage (or its escalation) and records them. A retry returns the approvers
     * recorded the first time, so the set never shifts under a running stage. The stage is not yet open to
     * clients: `markStageOpen` does that once the workflow holds the approvers, so nobody can see an open
     * stage that the workflow would not yet accept decisions for.
     */
    async resolveStage(input: OpenStageInput): Promise<{ approvers: string[] }> {
      return db.transaction().execute(async (tx) => {
        await requireRequest(tx, input);
        const recorded = await tx.selectFrom('access_request_approvers').select('person_id')
          .where('request_id', '=', input.requestId).where('stage', '=', input.stage).where('escalation', '=', input.escalation).execute();
        if (recorded.length > 0) return { approvers: recorded.map((r) => r.person_id).sort() };
        const approvers = eligibleApprovers(await resolveApprovers(tx, input), input);
        if (approvers.length > 0) {
          await tx.insertInto('access_request_approvers')
            .values(approvers.map((p) => ({ tenant_id: input.tenantId, request_id: input.requestId, stage: input.stage, person_id: p, escalation: input.escalation, decision: null })))
            // An original approver who is an escalation approver too keeps their one row, now marked escalation:
            // the approvals list asks only escalation approvers once a stage is escalated, and a retry of
            // this escalation reads its approvers back by that mark.
            .onConflict((oc) => oc.columns(['request_id', 'stage', 'person_id'])
              .doUpdateSet({ escalation: sql<boolean>`access_request_approvers.escalation or excluded.escalation` }))
            .execute();
        }
        return { approvers };
      });
    },

    /** Makes a resolved stage (or its escalation) the request's current stage, with its history event. */
    async markStageOpen(input: RequestRef & { stage: number; escalation: boolean; approvers: string[]; required: number | null; quorum: Quorum }): Promise<void> {
      await db.transaction().execute(async (tx) => {
        await requireRequest(tx, input);
        const kind = input.escalation ? 'escalated' : 'stage_opened';
        await tx.updateTable('access_requests').set({ current_stage: input.stage, updated_at: new Date() }).where('id', '=', input.requestId).execute();
        await appendRequestEvent(tx, {
          ...input, kind, stage: input.stage, actor: workflowActor(input.requestId), dedupeKey: `${kind}:${input.stage}`,
          details: { approvers: input.approvers, quorum: input.quorum, required: input.required },
        });
      });
    },

    /** Records one approver's decision (once). */
    async recordDecision(input: DecisionRecord): Promise<void> {
      await db.transaction().execute(async (tx) => {
        await requireRequest(tx, input);
        await writeDecision(tx, input);
      });
    },

    /** Moves the request to a status with its history and audit event (once per kind). */
    async recordTransition(input: RequestRef & { status: RequestStatus; kind: string; stage: number | null; actor: Actor; details: Record<string, unknown>; dedupeKey: string }): Promise<void> {
      await db.transaction().execute(async (tx) => {
        await requireRequest(tx, input);
        const terminal = input.status !== 'pending' && input.status !== 'approved';
        await tx.updateTable('access_requests').set({ status: input.status, updated_at: new Date(), ...(terminal ? { current_stage: null } : {}) })
          .where('id', '=', input.requestId).execute();
        await appendRequestEvent(tx, { ...input, stage: input.stage, details: input.details });
      });
    },

    /**
     * Approves and grants the bundle (see grantApprovedRequest); a retry after a commit returns the recorded
     * grant. Usually the API has committed it already: one read finds that, without a transaction.
     */
    async grantBundle(input: GrantRequestInput): Promise<GrantResult> {
      try {
        return (await recordedGrant(db, input.tenantId, input.requestId)) ?? await db.transaction().execute((tx) => grantApprovedRequest(tx, input));
      } catch (err) {
        // A request recorded as ended is never granted, and retrying cannot change that.
        if (err instanceof RequestClosedError) throw ApplicationFailure.nonRetryable(err.message, FailureTypes.Conflict);
        throw err;
      }
    },

    /** Revokes what a request granted (at expiry), with evidence; revoking again changes nothing. */
    async revokeGrant(input: RequestRef & { beneficiaryPersonId: string; items?: BundleItem[] }): Promise<RecordedPlan | null> {
      return db.transaction().execute(async (tx) => {
        const request = await requireRequest(tx, input);
        if (request.status === 'revoked') return recordedRequestPlan(tx, input.requestId, 'revoke');
        await lockTenantAccess(tx, input.tenantId);
        // Item by item when the items are known (the revocation's plan records each), then anything else
        // the request granted.
        const native: { item: BundleItem; changed: boolean }[] = [];
        for (const item of input.items ?? []) {
          if (!isNativeItem(item)) continue;
          const n = await revokeEdge(tx, { tenantId: input.tenantId, personId: input.beneficiaryPersonId, targetKind: item.kind, targetId: item.id, sourceRef: requestGrantRef(input.requestId) });
          native.push({ item, changed: n > 0 });
        }
        const edgesRevoked = native.filter((n) => n.changed).length + await revokeEdgesBySourceRef(tx, input.tenantId, requestGrantRef(input.requestId));
        await syncDerivedGroupEdges(tx, input.tenantId, [input.beneficiaryPersonId]);
        await tx.updateTable('access_requests').set({ status: 'revoked', updated_at: new Date() }).where('id', '=', input.requestId).execute();
        await appendRequestEvent(tx, {
          ...input, kind: 'revoked', stage: null, actor: workflowActor(input.requestId), dedupeKey: 'revoked',
          details: { reason: 'expired', edgesRevoked },
        });
        if (!input.items) return null;
        return recordRequestPlan(tx, {
          tenantId: input.tenantId, requestId: input.requestId, personId: input.beneficiaryPersonId, items: input.items, native, direction: 'revoke',
          actor: workflowActor(input.requestId),
        });
      });
    },
  };
}
