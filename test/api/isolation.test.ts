import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { allRoutes } from '../../api/routes';
import type { ApiClient } from '../support/fixtures';
import { createWorld, type World } from '../support/world';

/** A concrete path for a route: the given tenant, and well-formed ids for every other parameter. */
function pathFor(path: string, tenantId: string): string {
  return path.replace(':tenantId', tenantId).replace(/:[A-Za-z]+/g, () => randomUUID());
}

function call(client: ApiClient, method: string, path: string) {
  return client.request(method.toUpperCase(), path, method === 'get' || method === 'delete' ? undefined : {});
}

describe('tenant isolation and permissions', () => {
  let w: World;
  before(async () => {
    w = await createWorld();
  });
  after(async () => w.stop());

  // Signature-authenticated routes (the HR webhook) have their own refusal tests in test/api/hr-lifecycle.test.ts, and
  // the plan-step callback (authenticated by its single-use token) in test/api/plans.test.ts.
  const signed = allRoutes.filter((r) => r.auth === 'hr_signature' || r.auth === 'callback_token');
  const tenantScoped = allRoutes.filter((r) => r.tenantScoped && r.auth === undefined);
  const global = allRoutes.filter((r) => !r.tenantScoped && r.auth === undefined);

  it('should cover every endpoint of the API', () => {
    expect(tenantScoped.length + global.length + signed.length).to.equal(allRoutes.length);
    expect(global.map((r) => `${r.method} ${r.path}`)).to.have.members(['get /v1/whoami', 'post /v1/tenants', 'get /v1/tenants', 'get /v1/connector-kinds']);
  });

  for (const route of tenantScoped) {
    describe(`${route.method.toUpperCase()} ${route.path}`, () => {
      it('should refuse another customer tenant\'s token with tenant_not_found', async () => {
        const res = await call(w.asGlobex, route.method, pathFor(route.path, w.acme.id));
        expect(res.status, JSON.stringify(res.body)).to.equal(404);
        expect(res.body.code).to.equal('tenant_not_found');
      });

      it('should refuse a vendor token, and an operator token on a vendor tenant', async () => {
        expect((await call(w.asVendor, route.method, pathFor(route.path, w.acme.id))).body.code).to.equal('tenant_not_found');
        expect((await call(w.asOperator, route.method, pathFor(route.path, w.vendor.id))).body.code).to.equal('tenant_not_found');
      });

      it('should refuse a token without the permission with forbidden', async () => {
        const res = await call(w.asAcmeUnprivileged, route.method, pathFor(route.path, w.acme.id));
        expect(res.status, JSON.stringify(res.body)).to.equal(403);
        expect(res.body.code).to.equal('forbidden');
      });

      it('should refuse an anonymous caller with unauthenticated', async () => {
        const res = await call(w.anonymous, route.method, pathFor(route.path, w.acme.id));
        expect(res.status).to.equal(401);
        expect(res.body.code).to.equal('unauthenticated');
        expect(res.headers.get('www-authenticate')).to.match(/^Bearer/);
      });

      it('should let an operator token act on a customer tenant', async () => {
        const res = await call(w.asOperator, route.method, pathFor(route.path, w.acme.id));
        expect(res.body?.code).to.not.be.oneOf(['tenant_not_found', 'forbidden', 'unauthenticated']);
      });
    });
  }

  describe('POST /v1/tenants', () => {
    it('should refuse a customer token even with the permission, and an unprivileged one', async () => {
      const body = { kind: 'customer', slug: `x-${Date.now()}`, name: 'X' };
      expect((await w.asAcme.post('/v1/tenants', body)).body.code).to.equal('forbidden');
      expect((await w.asAcmeUnprivileged.post('/v1/tenants', body)).body.code).to.equal('forbidden');
      expect((await w.anonymous.post('/v1/tenants', body)).status).to.equal(401);
    });
  });

  describe('GET /v1/tenants', () => {
    it('should show a customer only its own tenant, and an operator its own plus customers', async () => {
      const mine = (await w.asAcme.get('/v1/tenants?limit=200')).body.items.map((t: { id: string }) => t.id);
      expect(mine).to.deep.equal([w.acme.id]);
      expect((await w.asAcmeUnprivileged.get('/v1/tenants')).body.code).to.equal('forbidden');
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { body: { items: { id: string; kind: string }[]; nextCursor: string | null } } =
          await w.asOperator.get(`/v1/tenants?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.body.items.every((t) => t.kind === 'customer' || t.id === w.operator.id)).to.equal(true);
        ids.push(...page.body.items.map((t) => t.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(ids).to.include.members([w.operator.id, w.acme.id, w.globex.id]);
      expect(ids).to.not.include(w.vendor.id);
    });
  });

  describe('GET /v1/whoami', () => {
    it('should describe the token, and refuse an anonymous caller', async () => {
      const res = await w.asAcmeUnprivileged.get('/v1/whoami');
      expect(res.body).to.include({ tenantId: w.acme.id, tenantKind: 'customer' });
      expect(res.body.permissions).to.deep.equal([]);
      expect((await w.anonymous.get('/v1/whoami')).status).to.equal(401);
    });
  });

  describe('ids of another tenant inside one\'s own tenant path', () => {
    it('should answer not_found and change nothing', async () => {
      const group = (await w.asGlobex.post(`/v1/tenants/${w.globex.id}/groups`, { name: 'globex-only' })).body.id;
      const app = (await w.asGlobex.post(`/v1/tenants/${w.globex.id}/applications`, { name: 'globex-app' })).body.id;
      const role = (await w.asGlobex.post(`/v1/tenants/${w.globex.id}/roles`, { name: 'globex-role' })).body.id;
      expect((await w.asAcme.get(`/v1/tenants/${w.acme.id}/groups/${group}`)).body.code).to.equal('not_found');
      expect((await w.asAcme.get(`/v1/tenants/${w.acme.id}/roles/${role}`)).body.code).to.equal('not_found');
      expect((await w.asAcme.get(`/v1/tenants/${w.acme.id}/applications/${app}`)).body.code).to.equal('not_found');
      expect((await w.asAcme.post(`/v1/tenants/${w.acme.id}/groups/${group}/members`, { personId: randomUUID() })).body.code).to.equal('not_found');
      const mine = (await w.asAcme.post(`/v1/tenants/${w.acme.id}/groups`, { name: 'acme-nest' })).body.id;
      const nest = await w.asAcme.post(`/v1/tenants/${w.acme.id}/groups/${mine}/members`, { groupId: group });
      expect(nest.status).to.equal(422);
      expect(nest.body.code).to.equal('reference_not_found');
      expect((await w.asGlobex.get(`/v1/tenants/${w.globex.id}/audit-events?targetId=${group}`)).body.items.map((a: { action: string }) => a.action))
        .to.deep.equal(['group.created']);
    });
  });
});
