import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { WorkflowFailedError } from '@temporalio/client';
import { applyPersonSetup } from '../../activities/person-setup';
import { createCatalogObject } from '../../db/repositories/catalog';
import type { personSetup } from '../../workflows';
import { personSetupStateQuery } from '../../workflows/messages';
import { personSetupWorkflowId, type PersonSetupInput } from '../../workflows/person-setup.types';
import { testEnv } from '../support/env';
import { seedTenant, startWorker } from '../support/fixtures';

async function setupInput(groups = 1): Promise<PersonSetupInput> {
  const { db } = testEnv();
  const tenant = await seedTenant('customer');
  const groupIds: string[] = [];
  for (let i = 0; i < groups; i += 1) {
    const g = await createCatalogObject(db, 'groups', { tenantId: tenant.id, name: `g${i}`, description: null });
    groupIds.push(g!.id);
  }
  return {
    tenantId: tenant.id, personId: randomUUID(), displayName: 'Test Person', email: null, profile: { jobTitle: 'Engineer' },
    groupIds, actor: { kind: 'system', id: 'test' }, requestId: null,
  };
}

async function auditActions(tenantId: string): Promise<string[]> {
  const rows = await testEnv().db.selectFrom('audit_events').select('action').where('tenant_id', '=', tenantId).orderBy('id').execute();
  return rows.map((r) => r.action);
}

describe('applyPersonSetup activity', () => {
  describe('when retried after it committed', () => {
    it('should change nothing the second time', async () => {
      const input = await setupInput(2);
      const first = await applyPersonSetup(testEnv().db, input);
      const second = await applyPersonSetup(testEnv().db, input);
      expect(first).to.include({ applied: true, edgesCreated: 2 });
      expect(first.groupIds).to.have.length(2);
      expect(second).to.deep.equal({ personId: input.personId, groupIds: [], edgesCreated: 0, applied: false });
      // The person row is created here when the API's write is missing, so the run is never lost.
      expect(await auditActions(input.tenantId)).to.deep.equal(['person.created', 'profile.updated', 'group.member_added', 'group.member_added', 'person.activated']);
    });
  });

  describe('when a group is missing', () => {
    it('should fail permanently with NotFound and write nothing', async () => {
      const input = { ...(await setupInput(0)), groupIds: [randomUUID()] };
      try {
        await applyPersonSetup(testEnv().db, input);
        expect.fail('should have thrown');
      } catch (err) {
        expect(err).to.include({ type: 'NotFound', nonRetryable: true });
      }
      expect(await auditActions(input.tenantId)).to.deep.equal([]);
    });
  });
});

describe('personSetup workflow', () => {
  describe('when run on a real worker', () => {
    it('should complete and expose its state through the query', async () => {
      const worker = await startWorker();
      try {
        const input = await setupInput(1);
        const handle = await testEnv().client.workflow.start<typeof personSetup>('personSetup', {
          taskQueue: worker.taskQueue, workflowId: personSetupWorkflowId(input.tenantId, input.personId), args: [input],
        });
        const result = await handle.result();
        expect(result).to.include({ personId: input.personId, applied: true, edgesCreated: 1 });
        expect(await handle.query(personSetupStateQuery)).to.deep.include({ status: 'completed', failure: null });
      } finally {
        await worker.stop();
      }
    });
  });

  describe('when the activity fails permanently', () => {
    it('should fail the run with the typed cause, without retrying', async () => {
      const worker = await startWorker();
      try {
        const input = { ...(await setupInput(0)), groupIds: [randomUUID()] };
        const handle = await testEnv().client.workflow.start<typeof personSetup>('personSetup', {
          taskQueue: worker.taskQueue, workflowId: personSetupWorkflowId(input.tenantId, input.personId), args: [input],
        });
        const err = await handle.result().then(() => null, (e: unknown) => e);
        expect(err).to.be.instanceOf(WorkflowFailedError);
        const cause = (err as WorkflowFailedError).cause?.cause as { type?: string } | undefined;
        expect(cause?.type).to.equal('NotFound');
        const history = await handle.fetchHistory();
        const attempts = history.events?.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes?.attempt);
        expect(attempts).to.deep.equal([1]);
        expect((await handle.query(personSetupStateQuery)).status).to.equal('failed');
      } finally {
        await worker.stop();
      }
    });
  });
});
