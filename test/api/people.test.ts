import { expect } from 'chai';
import { testEnv } from '../support/env';
import { eventually } from '../support/fixtures';
import { createWorld, type World } from '../support/world';

describe('people API', () => {
  let w: World;
  before(async () => {
    w = await createWorld();
  });
  after(async () => w.stop());

  async function createGroup(name: string): Promise<string> {
    const res = await w.asAcme.post(`/v1/tenants/${w.acme.id}/groups`, { name });
    expect(res.status).to.equal(201);
    return res.body.id;
  }

  async function waitActive(location: string) {
    return eventually(async () => {
      const res = await w.asAcme.get(location);
      return res.body.status === 'active' ? res.body : undefined;
    }, 20_000, 'person to become active');
  }

  describe('when a person is created with initial groups', () => {
    it('should answer 202 with a Location, and the workflow should write memberships, edges and audit', async () => {
      const eng = await createGroup('engineering');
      const staff = await createGroup('all-staff');
      expect((await w.asAcme.post(`/v1/tenants/${w.acme.id}/groups/${staff}/members`, { groupId: eng })).status).to.equal(201);

      const res = await w.asAcme.post(`/v1/tenants/${w.acme.id}/people`, {
        displayName: 'Ada Lovelace', email: 'ada@acme.test', profile: { department: 'R&D', fte: 1 }, groupIds: [eng],
      });
      expect(res.status).to.equal(202);
      const location = res.headers.get('location') as string;
      expect(location).to.equal(`/v1/tenants/${w.acme.id}/people/${res.body.id}`);
      expect(res.body.status).to.be.oneOf(['pending', 'active']);
      expect(res.body.setup.workflowId).to.equal(`person-setup:${w.acme.id}:${res.body.id}`);

      const person = await waitActive(location);
      expect(person.profile).to.deep.equal({ department: 'R&D', fte: 1 });
      expect(person.setup).to.deep.equal({ workflowId: res.body.setup.workflowId, status: 'completed', failure: null });

      const edges = (await w.asAcme.get(`/v1/tenants/${w.acme.id}/access-edges?personId=${person.id}`)).body.items;
      expect(edges.map((e: { target: { id: string }; source: string; trust: string; viaGroupId: string | null }) =>
        [e.target.id, e.source, e.trust, e.viaGroupId])).to.have.deep.members([
        [eng, 'direct', 'authoritative', null],
        [staff, 'group', 'derived', eng],
      ]);

      const audit = (await w.asAcme.get(`/v1/tenants/${w.acme.id}/audit-events?targetId=${person.id}`)).body.items;
      expect(audit.map((a: { action: string }) => a.action)).to.deep.equal(['person.created', 'profile.updated', 'person.activated']);
      const provenance = (await w.asAcme.get(`/v1/tenants/${w.acme.id}/people/${person.id}/profile`)).body.provenance;
      expect(provenance.department).to.include({ source: 'manual' });
      const added = (await w.asAcme.get(`/v1/tenants/${w.acme.id}/audit-events?action=group.member_added&targetId=${eng}`)).body.items;
      expect(added).to.have.length(1);
      expect(added[0].details.personId).to.equal(person.id);

      // The run is findable in Temporal by its business ID and search attributes, and it completed.
      const handle = testEnv().client.workflow.getHandle(res.body.setup.workflowId);
      expect(await handle.result()).to.include({ personId: person.id, applied: true, edgesCreated: 2 });
      const found = await eventually(async () => {
        const runs = [];
        for await (const r of testEnv().client.workflow.list({ query: `PortalPersonId = '${person.id}'` })) runs.push(r);
        return runs.length > 0 ? runs : undefined;
      }, 20_000, 'visibility');
      expect(found[0]?.workflowId).to.equal(res.body.setup.workflowId);
    });
  });

  describe('when the same Idempotency-Key is sent twice', () => {
    it('should create one person and run one workflow', async () => {
      const body = { displayName: 'Grace Hopper' };
      const key = { 'idempotency-key': `hire-${Date.now()}` };
      const first = await w.asAcme.post(`/v1/tenants/${w.acme.id}/people`, body, key);
      const second = await w.asAcme.post(`/v1/tenants/${w.acme.id}/people`, body, key);
      expect(first.status).to.equal(202);
      expect(second.status).to.equal(202);
      expect(second.body.id).to.equal(first.body.id);
      await waitActive(first.headers.get('location') as string);
      const third = await w.asAcme.post(`/v1/tenants/${w.acme.id}/people`, body, key);
      expect(third.status).to.equal(202);
      expect(third.body.id).to.equal(first.body.id);
      const created = (await w.asAcme.get(`/v1/tenants/${w.acme.id}/audit-events?action=person.created&targetId=${first.body.id}`)).body.items;
      expect(created).to.have.length(1);
    });
  });

  describe('when the body names a group of another tenant', () => {
    it('should refuse with reference_not_found and create nothing', async () => {
      const theirs = (await w.asGlobex.post(`/v1/tenants/${w.globex.id}/groups`, { name: 'secret' })).body.id;
      const before = (await w.asAcme.get(`/v1/tenants/${w.acme.id}/people?limit=200`)).body.items.length;
      const res = await w.asAcme.post(`/v1/tenants/${w.acme.id}/people`, { displayName: 'Mallory', groupIds: [theirs] });
      expect(res.status).to.equal(422);
      expect(res.body.code).to.equal('reference_not_found');
      expect(res.body.errors[0].path).to.equal('body.groupIds[0]');
      expect((await w.asAcme.get(`/v1/tenants/${w.acme.id}/people?limit=200`)).body.items.length).to.equal(before);
    });
  });

  describe('when listing people', () => {
    it('should page with an opaque cursor', async () => {
      const tenant = w.acme.id;
      for (const n of ['P1', 'P2', 'P3']) {
        expect((await w.asAcme.post(`/v1/tenants/${tenant}/people`, { displayName: n })).status).to.equal(202);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { body: { items: { id: string }[]; nextCursor: string | null } } =
          await w.asAcme.get(`/v1/tenants/${tenant}/people?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.body.items.map((p) => p.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(new Set(seen).size).to.equal(seen.length);
      expect(seen.length).to.be.at.least(3);
    });
  });
});
