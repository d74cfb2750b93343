import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { MAX_BODY_BYTES, MAX_IMPORT_BYTES } from '../../api/app';
import { nulCharacterErrors } from '../../api/problems';
import { testEnv } from '../support/env';
import { seedToken } from '../support/fixtures';
import { createWorld, type World } from '../support/world';

/** Row counts of everything a bad request might have touched. */
async function snapshot(tenantId: string) {
  const db = testEnv().db;
  const count = async (table: 'groups' | 'people' | 'audit_events' | 'api_tokens' | 'access_edges' | 'group_members' | 'applications') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow()).n);
  return {
    groups: await count('groups'), people: await count('people'), audit: await count('audit_events'), tokens: await count('api_tokens'),
    edges: await count('access_edges'), members: await count('group_members'), applications: await count('applications'),
  };
}

describe('bad input', () => {
  let w: World;
  let groups: string;
  before(async () => {
    w = await createWorld();
    groups = `/v1/tenants/${w.acme.id}/groups`;
  });
  after(async () => w.stop());

  const cases: { name: string; send: (w: World) => Promise<{ status: number; body: { code: string } }>; status: number; code: string }[] = [
    { name: 'malformed JSON', send: (w) => w.asAcme.request('POST', `/v1/tenants/${w.acme.id}/groups`, '{"name": "x"', { 'content-type': 'application/json' }), status: 400, code: 'invalid_json' },
    { name: 'a JSON scalar body', send: (w) => w.asAcme.request('POST', `/v1/tenants/${w.acme.id}/groups`, '"x"', { 'content-type': 'application/json' }), status: 400, code: 'invalid_json' },
    { name: 'an unknown field', send: (w) => w.asAcme.post(`/v1/tenants/${w.acme.id}/groups`, { name: 'x', owner: 'me' }), status: 400, code: 'validation_failed' },
    { name: 'a wrong type', send: (w) => w.asAcme.post(`/v1/tenants/${w.acme.id}/groups`, { name: 42 }), status: 400, code: 'validation_failed' },
    { name: 'a missing body', send: (w) => w.asAcme.post(`/v1/tenants/${w.acme.id}/groups`), status: 400, code: 'validation_failed' },
    { name: 'an empty name', send: (w) => w.asAcme.post(`/v1/tenants/${w.acme.id}/groups`, { name: '   ' }), status: 400, code: 'validation_failed' },
    { name: 'an oversized body', send: (w) => w.asAcme.post(`/v1/tenants/${w.acme.id}/groups`, { name: 'x', description: 'y'.repeat(MAX_BODY_BYTES) }), status: 413, code: 'payload_too_large' },
    { name: 'a non-JSON content type', send: (w) => w.asAcme.request('POST', `/v1/tenants/${w.acme.id}/groups`, 'name=x', { 'content-type': 'application/x-www-form-urlencoded' }), status: 415, code: 'unsupported_media_type' },
    { name: 'an unknown query parameter', send: (w) => w.asAcme.get(`/v1/tenants/${w.acme.id}/groups?color=red`), status: 400, code: 'validation_failed' },
    { name: 'an out-of-range limit', send: (w) => w.asAcme.get(`/v1/tenants/${w.acme.id}/groups?limit=100000`), status: 400, code: 'validation_failed' },
    { name: 'a forged cursor', send: (w) => w.asAcme.get(`/v1/tenants/${w.acme.id}/groups?cursor=bm90LWEtY3Vyc29y`), status: 400, code: 'invalid_cursor' },
    { name: 'a forged audit cursor', send: (w) => w.asAcme.get(`/v1/tenants/${w.acme.id}/audit-events?cursor=${Buffer.from(JSON.stringify({ k: 'x; drop' })).toString('base64url')}`), status: 400, code: 'invalid_cursor' },
    { name: 'a malformed id in the path', send: (w) => w.asAcme.get(`/v1/tenants/${w.acme.id}/groups/not-a-uuid`), status: 400, code: 'validation_failed' },
    { name: 'a malformed tenant id', send: (w) => w.asAcme.get('/v1/tenants/not-a-uuid/groups'), status: 404, code: 'tenant_not_found' },
    { name: 'an unknown tenant id', send: (w) => w.asAcme.get(`/v1/tenants/${randomUUID()}/groups`), status: 404, code: 'tenant_not_found' },
    { name: 'an unknown route', send: (w) => w.asAcme.get('/v1/nothing-here'), status: 404, code: 'route_not_found' },
    { name: 'a missing token', send: (w) => w.anonymous.post(`/v1/tenants/${w.acme.id}/groups`, { name: 'x' }), status: 401, code: 'unauthenticated' },
    { name: 'a malformed Authorization header', send: (w) => w.anonymous.request('POST', `/v1/tenants/${w.acme.id}/groups`, { name: 'x' }, { authorization: 'Basic dXNlcjpwYXNz' }), status: 401, code: 'unauthenticated' },
    { name: 'an unknown token', send: (w) => w.anonymous.as('portal_not-a-real-token').post(`/v1/tenants/${w.acme.id}/groups`, { name: 'x' }), status: 401, code: 'unauthenticated' },
    { name: 'a bad email and a bad profile attribute', send: (w) => w.asAcme.post(`/v1/tenants/${w.acme.id}/people`, { displayName: 'X', email: 'nope', profile: { 'bad key': 1 } }), status: 400, code: 'validation_failed' },
    { name: 'a bad Idempotency-Key', send: (w) => w.asAcme.post(`/v1/tenants/${w.acme.id}/people`, { displayName: 'X' }, { 'idempotency-key': 'has spaces' }), status: 400, code: 'validation_failed' },
    { name: 'a NUL character in a string', send: (w) => w.asAcme.post(`/v1/tenants/${w.acme.id}/groups`, { name: 'a\u0000b' }), status: 400, code: 'validation_failed' },
    { name: 'a NUL character in a nested value', send: (w) => w.asAcme.post(`/v1/tenants/${w.acme.id}/people`, { displayName: 'X', profile: { department: 'eng\u0000' } }), status: 400, code: 'validation_failed' },
    { name: 'a NUL character in a query parameter', send: (w) => w.asAcme.get(`/v1/tenants/${w.acme.id}/hr/events?employeeId=E%00`), status: 400, code: 'validation_failed' },
    { name: 'a member body naming both a person and a group', send: (w) => w.asAcme.post(`/v1/tenants/${w.acme.id}/groups/${randomUUID()}/members`, { personId: randomUUID(), groupId: randomUUID() }), status: 400, code: 'validation_failed' },
  ];

  for (const c of cases) {
    describe(`when a request has ${c.name}`, () => {
      it(`should answer ${c.status} ${c.code} as problem+json and change nothing`, async () => {
        const before = await snapshot(w.acme.id);
        const res = await c.send(w);
        expect(res.status, JSON.stringify(res.body)).to.equal(c.status);
        expect(res.body.code).to.equal(c.code);
        expect(res.body).to.include.keys('type', 'title', 'status', 'detail', 'requestId');
        expect(JSON.stringify(res.body)).to.not.match(/at .*\.ts:\d+/);
        expect(await snapshot(w.acme.id)).to.deep.equal(before);
      });
    });
  }

  describe('when a body is over its route\'s limit', () => {
    it('should name that route\'s limit: a JSON body\'s, or a batch import\'s', async () => {
      const json = await w.asAcme.post(`/v1/tenants/${w.acme.id}/groups`, { name: 'x', description: 'y'.repeat(MAX_BODY_BYTES) });
      expect(json.body.detail).to.equal(`This request's body is limited to ${MAX_BODY_BYTES} bytes.`);
      const csv = await w.asAcme.request('POST', `/v1/tenants/${w.acme.id}/hr/imports`, 'y'.repeat(MAX_IMPORT_BYTES + 1), { 'content-type': 'text/csv' });
      expect(csv.status).to.equal(413);
      expect(csv.body.detail).to.equal(`This request's body is limited to ${MAX_IMPORT_BYTES} bytes.`);
    });
  });

  describe('when field validation fails', () => {
    it('should name every bad field', async () => {
      const res = await w.asAcme.post(`/v1/tenants/${w.acme.id}/people`, { displayName: '', email: 'nope', extra: true });
      const paths = res.body.errors.map((e: { path: string }) => e.path);
      expect(paths).to.include.members(['body.displayName', 'body.email', 'body']);
      expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
    });
  });

  describe('when strings hold the NUL character', () => {
    it('should name each one, keys and values at any depth, and change nothing', async () => {
      const before = await snapshot(w.acme.id);
      const res = await w.asAcme.post(`/v1/tenants/${w.acme.id}/people`, { displayName: 'X\u0000', profile: { department: 'a\u0000', jobTitle: 'ok' } });
      expect(res.status).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.displayName', 'body.profile.department']);
      expect(await snapshot(w.acme.id)).to.deep.equal(before);
      // Keys too, shown escaped in the path; arrays by index.
      expect(nulCharacterErrors('body', { a: [{ ['k\u0000']: 'v' }, 'ok', 'x\u0000'] }).map((e) => e.path)).to.deep.equal(['body.a.0.k\\u0000', 'body.a.2']);
    });
  });

  describe('when a token has been revoked', () => {
    it('should refuse it with unauthenticated', async () => {
      const secret = await seedToken(w.acme.id, ['portal.groups.view']);
      const client = w.anonymous.as(secret);
      expect((await client.get(groups)).status).to.equal(200);
      const id = (await client.get('/v1/whoami')).body.tokenId;
      const revoke = await w.asAcme.delete(`/v1/tenants/${w.acme.id}/api-tokens/${id}`);
      expect(revoke.status).to.equal(200);
      expect(revoke.body.revokedAt).to.be.a('string');
      const res = await client.get(groups);
      expect(res.status).to.equal(401);
      expect(res.body.code).to.equal('unauthenticated');
    });
  });

  describe('when a token tries to grant permissions it does not hold', () => {
    it('should refuse with permission_escalation and create no token', async () => {
      const limited = w.anonymous.as(await seedToken(w.acme.id, ['portal.tokens.manage']));
      const before = await snapshot(w.acme.id);
      const res = await limited.post(`/v1/tenants/${w.acme.id}/api-tokens`, { name: 'escalate', permissions: ['portal.people.manage'] });
      expect(res.status).to.equal(403);
      expect(res.body.code).to.equal('permission_escalation');
      expect(await snapshot(w.acme.id)).to.deep.equal(before);
    });
  });

  describe('when a duplicate name is created', () => {
    it('should answer name_taken and keep one object', async () => {
      expect((await w.asAcme.post(groups, { name: 'dup' })).status).to.equal(201);
      const before = await snapshot(w.acme.id);
      const res = await w.asAcme.post(groups, { name: 'dup' });
      expect(res.status).to.equal(409);
      expect(res.body.code).to.equal('name_taken');
      expect(await snapshot(w.acme.id)).to.deep.equal(before);
    });
  });
});
