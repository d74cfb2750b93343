import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createBundle } from '../../db/repositories/access-bundles';
import {
  getRequest, grantApprovedRequest, listRequestEvents, recordSubmittedRequest, RequestClosedError, RequestExistsError, requestGrantRef,
} from '../../db/repositories/access-requests';
import { createCatalogObject } from '../../db/repositories/catalog';
import type { AccessRequestInput } from '../../workflows/access-request.types';
import { testEnv } from '../support/env';
import { seedPerson, seedTenant } from '../support/fixtures';

describe('access requests (repository)', () => {
  let input: AccessRequestInput;
  beforeEach(async () => {
    const db = testEnv().db;
    const tenantId = (await seedTenant('customer', 'requests')).id;
    const [alice, boss] = [await seedPerson(tenantId, 'Alice'), await seedPerson(tenantId, 'Boss')];
    const role = (await createCatalogObject(db, 'roles', { tenantId, name: 'deployer', description: null }))!.id;
    const bundle = await db.transaction().execute((tx) => createBundle(tx, {
      tenantId, createdBy: 'test', definition: {
        name: 'deploy', description: null, ownerPersonId: boss, items: [{ kind: 'role', id: role }], maxDurationSeconds: null, eligibility: [],
        policy: { stages: [{ name: 'owner', approvers: [{ type: 'bundle_owner' }], quorum: { type: 'count', count: 1 }, timeout: { afterSeconds: 60, action: 'expire' } }], approverOncePerRequest: false },
      },
    }));
    input = {
      tenantId, requestId: randomUUID(), bundleId: bundle!.id, bundleVersion: 1, definition: bundle!.definition, beneficiaryPersonId: alice,
      submittedByPersonId: alice, submittedByTokenId: randomUUID(), justification: 'x', durationSeconds: null,
    };
  });

  const submitted = (over: Partial<AccessRequestInput> = {}) => testEnv().db.transaction().execute((tx) => recordSubmittedRequest(tx, { ...input, ...over }, 'wf', null));
  const setStatus = (requestId: string, status: 'expired' | 'denied' | 'cancelled') => testEnv().db.updateTable('access_requests').set({ status, current_stage: null })
    .where('id', '=', requestId).execute();
  const grantOf = (requestId: string) => ({
    tenantId: input.tenantId, requestId, bundleVersion: 1, stage: 0, beneficiaryPersonId: input.beneficiaryPersonId, items: input.definition.items, durationSeconds: null,
    decision: { tenantId: input.tenantId, requestId, bundleVersion: 1, stage: 0, personId: input.definition.ownerPersonId, decision: 'approve' as const, comment: null },
  });

  describe('when a second open request for the same bundle and person is recorded', () => {
    it('should refuse it with RequestExistsError, write nothing, and allow one again once the first has ended', async () => {
      const first = randomUUID();
      expect(await submitted({ requestId: first })).to.equal(true);
      expect(await submitted({ requestId: first }), 'a retried write').to.equal(false);
      const second = randomUUID();
      const refusal = await submitted({ requestId: second }).then(() => null, (err: unknown) => err);
      expect(refusal).to.be.instanceOf(RequestExistsError);
      expect(await getRequest(testEnv().db, input.tenantId, second)).to.equal(null);
      expect(await listRequestEvents(testEnv().db, input.tenantId, second)).to.deep.equal([]);
      await setStatus(first, 'denied');
      expect(await submitted({ requestId: second })).to.equal(true);
    });
  });

  describe('when a grant is committed for a request that has ended', () => {
    it('should refuse it with RequestClosedError and write nothing', async () => {
      for (const status of ['expired', 'denied', 'cancelled'] as const) {
        const requestId = randomUUID();
        await submitted({ requestId });
        await setStatus(requestId, status);
        const refusal = await testEnv().db.transaction().execute((tx) => grantApprovedRequest(tx, grantOf(requestId))).then(() => null, (err: unknown) => err);
        expect(refusal, status).to.be.instanceOf(RequestClosedError);
        expect((await getRequest(testEnv().db, input.tenantId, requestId))?.status).to.equal(status);
        expect((await listRequestEvents(testEnv().db, input.tenantId, requestId)).map((e) => e.kind)).to.deep.equal(['submitted']);
        const edges = await testEnv().db.selectFrom('access_edges').select('id').where('source_ref', '=', requestGrantRef(requestId)).execute();
        expect(edges).to.deep.equal([]);
        const decided = await testEnv().db.selectFrom('access_request_approvers').select('decision').where('request_id', '=', requestId).execute();
        expect(decided).to.deep.equal([]);
      }
    });
  });
});
