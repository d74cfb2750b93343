import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../db/database';
import { countLiveEdges } from '../db/repositories/access-edges';
import { appendAudit } from '../db/repositories/audit';
import { missingCatalogIds } from '../db/repositories/catalog';
import { addPersonToGroup } from '../db/repositories/group-members';
import { applyProfileObservation } from '../db/repositories/profiles';
import { FailureTypes } from '../workflows/failures';
import type { PersonSetupInput, PersonSetupResult } from '../workflows/person-setup.types';
import { personSetupWorkflowId } from '../workflows/person-setup.types';

/**
 * Writes a person's membership, initial group memberships, access edges and audit events in one
 * transaction. Idempotent: when the person is already active (a retry after a commit whose completion was
 * lost), it changes nothing and reports applied: false.
 */
export async function applyPersonSetup(db: Db, input: PersonSetupInput): Promise<PersonSetupResult> {
  return db.transaction().execute(async (tx) => {
    const tenant = await tx.selectFrom('tenants').select('id').where('id', '=', input.tenantId).executeTakeFirst();
    if (!tenant) throw ApplicationFailure.nonRetryable(`tenant ${input.tenantId} does not exist`, FailureTypes.NotFound);

    // The API records the person as pending after starting this workflow; if that write lost the race (or
    // failed), the person is created here so accepted work is never lost.
    const created = await tx.insertInto('people')
      .values({
        id: input.personId, tenant_id: input.tenantId, display_name: input.displayName, email: input.email,
        status: 'pending', setup_workflow_id: personSetupWorkflowId(input.tenantId, input.personId),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id').executeTakeFirst();
    const person = await tx.selectFrom('people').select(['status', 'tenant_id']).where('id', '=', input.personId)
      .forUpdate().executeTakeFirstOrThrow();
    if (person.tenant_id !== input.tenantId) {
      throw ApplicationFailure.nonRetryable(`person ${input.personId} belongs to another tenant`, FailureTypes.Conflict);
    }
    if (person.status === 'active') return { personId: input.personId, groupIds: [], edgesCreated: 0, applied: false };

    const missing = await missingCatalogIds(tx, 'groups', input.tenantId, input.groupIds);
    if (missing.length > 0) {
      throw ApplicationFailure.nonRetryable(`groups not found in tenant: ${missing.join(', ')}`, FailureTypes.NotFound);
    }
    const audit = { tenantId: input.tenantId, actor: input.actor, requestId: input.requestId };
    if (created) {
      await appendAudit(tx, { ...audit, action: 'person.created', target: { kind: 'person', id: input.personId }, details: { displayName: input.displayName } });
    }

    // The initial profile is an administrator's input: recorded with provenance `manual` like any other edit.
    await applyProfileObservation(tx, {
      tenantId: input.tenantId, personId: input.personId, source: 'manual', sourceRecordId: `person-setup:${input.personId}`,
      observedAt: new Date(), values: input.profile, actor: input.actor, requestId: input.requestId,
    });

    const edgesBefore = await countLiveEdges(tx, input.tenantId, input.personId);
    const added: string[] = [];
    for (const groupId of new Set(input.groupIds)) {
      const { member, created: isNew } = await addPersonToGroup(tx, { tenantId: input.tenantId, groupId, personId: input.personId });
      if (!isNew) continue;
      added.push(groupId);
      await appendAudit(tx, { ...audit, action: 'group.member_added', target: { kind: 'group', id: groupId }, details: { memberId: member.id, personId: input.personId } });
    }
    const edgesCreated = (await countLiveEdges(tx, input.tenantId, input.personId)) - edgesBefore;

    await tx.updateTable('people').set({ status: 'active', updated_at: new Date() }).where('id', '=', input.personId).execute();
    await appendAudit(tx, {
      ...audit, action: 'person.activated', target: { kind: 'person', id: input.personId },
      details: { groupIds: added, edgesCreated, workflowId: personSetupWorkflowId(input.tenantId, input.personId) },
    });
    return { personId: input.personId, groupIds: added, edgesCreated, applied: true };
  });
}
