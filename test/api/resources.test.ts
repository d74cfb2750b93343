import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { eventually } from '../support/fixtures';
import { createWorld, type World } from '../support/world';

describe('resource endpoints', () => {
  let w: World;
  let t: string;
  before(async () => {
    w = await createWorld();
    t = `/v1/tenants/${w.acme.id}`;
  });
  after(async () => w.stop());

  async function person(displayName: string): Promise<string> {
    const res = await w.asAcme.post(`${t}/people`, { displayName });
    return (await eventually(async () => {
      const p = await w.asAcme.get(res.headers.get('location') as string);
      return p.body.status === 'active' ? p.body.id as string : undefined;
    }, 20_000, 'person setup'));
  }

  describe('tenants', () => {
    it('should let an operator create a customer tenant, audited in that tenant, and read it back', async () => {
      const slug = `cust-${randomUUID().slice(0, 8)}`;
      const created = await w.asOperator.post('/v1/tenants', { kind: 'customer', slug, name: 'Customer' });
      expect(created.status).to.equal(201);
      expect(created.headers.get('location')).to.equal(`/v1/tenants/${created.body.id}`);
      expect((await w.asOperator.get(`/v1/tenants/${created.body.id}`)).body).to.include({ slug, kind: 'customer' });
      const audit = await w.asOperator.get(`/v1/tenants/${created.body.id}/audit-events`);
      expect(audit.body.items.map((a: { action: string }) => a.action)).to.deep.equal(['tenant.created']);
      expect((await w.asOperator.post('/v1/tenants', { kind: 'customer', slug, name: 'Again' })).body.code).to.equal('name_taken');
      expect((await w.asOperator.post('/v1/tenants', { kind: 'operator', slug: `${slug}-op`, name: 'Op' })).body.code).to.equal('validation_failed');
    });
  });

  describe('API tokens', () => {
    it('should show the secret once, never list it, and revoke idempotently', async () => {
      const created = await w.asAcme.post(`${t}/api-tokens`, { name: 'ci', permissions: ['portal.groups.view'] });
      expect(created.status).to.equal(201);
      expect(created.body.secret).to.match(/^portal_/);
      const secret = created.body.secret as string;
      const listed = await w.asAcme.get(`${t}/api-tokens?limit=200`);
      expect(JSON.stringify(listed.body)).to.not.include(secret);
      const read = await w.asAcme.get(`${t}/api-tokens/${created.body.id}`);
      expect(read.body).to.not.have.property('secret');
      expect((await w.anonymous.as(secret).get(`${t}/groups`)).status).to.equal(200);
      expect((await w.anonymous.as(secret).get(`${t}/people`)).body.code).to.equal('forbidden');
      const first = await w.asAcme.delete(`${t}/api-tokens/${created.body.id}`);
      const second = await w.asAcme.delete(`${t}/api-tokens/${created.body.id}`);
      expect(first.status).to.equal(200);
      expect(second.status).to.equal(200);
      expect(second.body.revokedAt).to.equal(first.body.revokedAt);
      const audit = await w.asAcme.get(`${t}/audit-events?targetId=${created.body.id}`);
      expect(audit.body.items.map((a: { action: string }) => a.action)).to.deep.equal(['api_token.created', 'api_token.revoked']);
      expect(JSON.stringify(audit.body)).to.not.include(secret);
    });
  });

  describe('groups and nested membership', () => {
    it('should derive access through nesting, refuse cycles, and revoke on removal', async () => {
      const ids: Record<string, string> = {};
      for (const name of ['root', 'mid', 'leaf']) ids[name] = (await w.asAcme.post(`${t}/groups`, { name: `nest-${name}` })).body.id;
      const ada = await person('Ada');
      expect((await w.asAcme.post(`${t}/groups/${ids.root}/members`, { groupId: ids.mid })).status).to.equal(201);
      expect((await w.asAcme.post(`${t}/groups/${ids.mid}/members`, { groupId: ids.leaf })).status).to.equal(201);
      const added = await w.asAcme.post(`${t}/groups/${ids.leaf}/members`, { personId: ada });
      expect(added.status).to.equal(201);
      const again = await w.asAcme.post(`${t}/groups/${ids.leaf}/members`, { personId: ada });
      expect(again.status).to.equal(200);
      expect(again.body.id).to.equal(added.body.id);

      const edges = async () => (await w.asAcme.get(`${t}/access-edges?personId=${ada}`)).body.items
        .map((e: { target: { id: string }; source: string }) => `${e.source}:${e.target.id}`).sort();
      expect(await edges()).to.deep.equal([`direct:${ids.leaf}`, `group:${ids.mid}`, `group:${ids.root}`].sort());

      const cycle = await w.asAcme.post(`${t}/groups/${ids.leaf}/members`, { groupId: ids.root });
      expect(cycle.status).to.equal(409);
      expect(cycle.body.code).to.equal('group_cycle');
      expect((await w.asAcme.post(`${t}/groups/${ids.leaf}/members`, { groupId: ids.leaf })).body.code).to.equal('group_cycle');

      // Cutting mid out of root removes the access that flowed through it, and only that.
      const links = (await w.asAcme.get(`${t}/groups/${ids.root}/members`)).body.items;
      expect((await w.asAcme.delete(`${t}/groups/${ids.root}/members/${links[0].id}`)).status).to.equal(204);
      expect(await edges()).to.deep.equal([`direct:${ids.leaf}`, `group:${ids.mid}`].sort());
      expect((await w.asAcme.delete(`${t}/groups/${ids.root}/members/${links[0].id}`)).body.code).to.equal('not_found');

      expect((await w.asAcme.delete(`${t}/groups/${ids.leaf}/members/${added.body.id}`)).status).to.equal(204);
      expect(await edges()).to.deep.equal([]);
      const revoked = (await w.asAcme.get(`${t}/access-edges?personId=${ada}&state=revoked`)).body.items;
      expect(revoked).to.have.length(3);
      expect(revoked.every((e: { revokedAt: string | null }) => e.revokedAt !== null)).to.equal(true);
      const audit = (await w.asAcme.get(`${t}/audit-events?targetId=${ids.leaf}`)).body.items.map((a: { action: string }) => a.action);
      expect(audit).to.deep.equal(['group.created', 'group.member_added', 'group.member_removed']);
    });
  });

  describe('roles', () => {
    it('should create, list by name and read', async () => {
      const created = await w.asAcme.post(`${t}/roles`, { name: 'auditor', description: 'Reads evidence' });
      expect(created.status).to.equal(201);
      expect(created.headers.get('location')).to.equal(`${t}/roles/${created.body.id}`);
      expect((await w.asAcme.get(`${t}/roles?name=auditor`)).body.items.map((r: { id: string }) => r.id)).to.deep.equal([created.body.id]);
      expect((await w.asAcme.get(`${t}/roles/${created.body.id}`)).body).to.include({ name: 'auditor', description: 'Reads evidence' });
    });
  });

  describe('applications and assignments', () => {
    it('should assign idempotently with an access edge and an audit event', async () => {
      const app = (await w.asAcme.post(`${t}/applications`, { name: 'Payroll' })).body.id;
      const bob = await person('Bob');
      const first = await w.asAcme.post(`${t}/applications/${app}/assignments`, { personId: bob });
      const second = await w.asAcme.post(`${t}/applications/${app}/assignments`, { personId: bob });
      expect([first.status, second.status]).to.deep.equal([201, 200]);
      expect(second.body.id).to.equal(first.body.id);
      expect((await w.asAcme.get(`${t}/applications/${app}/assignments`)).body.items).to.have.length(1);
      const edges = (await w.asAcme.get(`${t}/access-edges?targetKind=application&targetId=${app}`)).body.items;
      expect(edges).to.have.length(1);
      expect(edges[0]).to.include({ personId: bob, source: 'direct', trust: 'authoritative', sourceRef: `app_assignment:${first.body.id}` });
      expect((await w.asAcme.get(`${t}/audit-events?action=application.assigned&targetId=${app}`)).body.items).to.have.length(1);
      const stranger = await w.asGlobex.post(`/v1/tenants/${w.globex.id}/people`, { displayName: 'Stranger' });
      const refused = await w.asAcme.post(`${t}/applications/${app}/assignments`, { personId: stranger.body.id });
      expect(refused.body.code).to.equal('reference_not_found');
    });
  });

  describe('audit and edge listings', () => {
    it('should filter by time and page without gaps or repeats', async () => {
      const since = new Date().toISOString();
      for (let i = 0; i < 5; i += 1) await w.asAcme.post(`${t}/roles`, { name: `paged-${i}` });
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { body: { items: { id: string; action: string }[]; nextCursor: string | null } } =
          await w.asAcme.get(`${t}/audit-events?action=role.created&since=${encodeURIComponent(since)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.body.items.map((a) => a.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).to.have.length(5);
      expect([...seen].sort((a, b) => Number(a) - Number(b))).to.deep.equal(seen);
    });
  });

  describe('health, readiness and the OpenAPI document', () => {
    it('should answer without a token', async () => {
      expect((await w.anonymous.get('/healthz')).body).to.deep.equal({ status: 'ok' });
      expect((await w.anonymous.get('/readyz')).body).to.deep.equal({ status: 'ready', checks: { database: 'ok', temporal: 'ok' } });
      const doc = (await w.anonymous.get('/openapi.json')).body;
      expect(doc.openapi).to.equal('3.1.0');
      expect(doc.paths['/v1/tenants/{tenantId}/people'].post.requestBody.content['application/json'].schema).to.be.an('object');
      expect(doc.paths['/v1/tenants/{tenantId}/people/{personId}'].get.parameters.map((p: { name: string }) => p.name))
        .to.have.members(['tenantId', 'personId']);
      expect(doc.components.schemas.Problem.properties.code.enum).to.include('validation_failed');
    });

    it('should carry a request id on every response, echoing a well-formed one', async () => {
      const res = await w.anonymous.request('GET', '/healthz', undefined, { 'x-request-id': 'trace-123' });
      expect(res.headers.get('x-request-id')).to.equal('trace-123');
      const bad = await w.anonymous.request('GET', '/v1/whoami', undefined, { 'x-request-id': 'bad id with spaces' });
      expect(bad.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
      expect(bad.body.requestId).to.equal(bad.headers.get('x-request-id'));
    });
  });
});
