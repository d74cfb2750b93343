/**
 * Tenant isolation by sub-resource id: a caller of tenant A (acme) naming, under A's own path, the id of
 * something that belongs to tenant B (globex). test/api/isolation.test.ts swaps the `:tenantId` of every
 * route; this file covers the routes that take another id, with a token of acme holding every permission
 * (or acting as a person where the route needs one). Each answer must be 404 not_found, and globex's
 * resource must read the same afterwards. One set of globex resources serves every case.
 */
import { expect } from 'chai';
import { Permissions } from '../../api/permissions';
import { type ApiClient, type ApiResponse, eventually, seedPerson, seedPersonToken } from '../support/fixtures';
import { planSettles } from '../support/plans';
import { createWorld, type World } from '../support/world';

/** The resources of globex that acme's caller names. */
interface Globex {
  t: string;
  token: { id: string; client: ApiClient };
  people: { owner: string; requester: string; subject: string };
  group: string;
  member: string;
  app: string;
  bundle: string;
  request: string;
  attribute: string;
  connector: string;
  plan: string;
  hold: string;
}

interface Case {
  /** The route, as `METHOD path` with the ids named. */
  route: string;
  when: string;
  /** The request of acme's caller. */
  send: () => Promise<ApiResponse>;
  /** The id of globex's resource it names (acme's audit log must not mention it). */
  target: () => string;
  /** Globex's resource as globex reads it: the same before and after. */
  state: () => Promise<unknown>;
}

describe('tenant isolation of ids inside one\'s own tenant path', () => {
  let w: World;
  let a: string;
  let g: Globex;
  /** A token of acme acting as an acme person, with every permission. */
  let asAcmePerson: ApiClient;

  const check = (res: ApiResponse, status: number) => {
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    return res;
  };

  before(async function () {
    this.timeout(120_000);
    w = await createWorld();
    a = `/v1/tenants/${w.acme.id}`;
    const t = `/v1/tenants/${w.globex.id}`;
    const admin = w.asGlobex;

    // People, created through the API; their setup workflows run on the world's worker.
    const person = async (displayName: string) => check(await admin.post(`${t}/people`, { displayName }), 202).body.id as string;
    const people = { owner: await person('Globex Owner'), requester: await person('Globex Requester'), subject: await person('Globex Subject') };
    for (const id of Object.values(people)) {
      await eventually(async () => ((await admin.get(`${t}/people/${id}`)).body.status === 'active' ? true : undefined), 20_000, `person ${id} active`);
    }

    const tokenRes = check(await admin.post(`${t}/api-tokens`, { name: 'globex-reader', permissions: ['portal.groups.view'] }), 201);
    const group = check(await admin.post(`${t}/groups`, { name: 'globex-group' }), 201).body.id as string;
    const member = check(await admin.post(`${t}/groups/${group}/members`, { personId: people.subject }), 201).body.id as string;
    const app = check(await admin.post(`${t}/applications`, { name: 'globex-app' }), 201).body.id as string;
    check(await admin.post(`${t}/applications/${app}/assignments`, { personId: people.subject }), 201);

    const bundle = check(await admin.post(`${t}/bundles`, {
      name: 'globex-bundle', ownerPersonId: people.owner, items: [{ kind: 'group', id: group }, { kind: 'application', id: app }],
      policy: { stages: [{ name: 'owner', approvers: [{ type: 'bundle_owner' }], quorum: { type: 'all' }, timeout: { afterSeconds: 600, action: 'expire' } }] },
    }), 201).body.id as string;
    const request = check(await admin.post(`${t}/requests`, { bundleId: bundle, personId: people.requester, justification: 'globex work' }), 202).body.id as string;

    const attribute = check(await admin.post(`${t}/profile-attributes`, { key: 'globexBadge', label: 'Badge', type: 'string', mutability: 'admin_editable' }), 201).body.id as string;
    // An endpoint that never resolves (.invalid): should a case ever reach the vendor, it goes nowhere.
    const connector = check(await admin.post(`${t}/connectors`, {
      kind: 'github_enterprise', name: 'globex-github',
      config: { enterprise: 'globex', shortcode: 'gx', organization: 'globex', apiBaseUrl: 'https://github.globex.invalid' },
      credentials: { token: 'g'.repeat(40) },
    }), 201).body.id as string;
    // A manual task due within a second: the plan ends completed_with_failures, so a retry would start round 2.
    const plan = check(await admin.post(`${t}/plans`, { reason: 'globex ticket', steps: [
      { key: 'ticket', target: { system: 'portal' }, operation: 'manual_task', targetObject: 'ticket:globex', parameters: { instructions: 'Globex only' }, callbackDeadlineSeconds: 1 },
    ] }), 202).body.id as string;

    // A hold: more terminations in one batch than the threshold.
    check(await admin.request('PUT', `${t}/hr/settings`, { disableThreshold: 5 }), 200);
    const terminations = ['G1', 'G2', 'G3', 'G4', 'G5', 'G6'].map((employeeId, i) =>
      JSON.stringify({ eventId: `globex-term-${Date.now()}-${i}`, type: 'termination', employeeId, occurredAt: new Date().toISOString() }));
    const held = check(await admin.request('POST', `${t}/hr/imports`, terminations.join('\n'), { 'content-type': 'application/x-ndjson' }), 202);
    expect(held.body).to.include({ held: 6 });

    // A finished lifecycle run of the subject, so the lifecycle has history to compare.
    const kickoff = check(await admin.post(`${t}/people/${people.subject}/lifecycle/kickoff`, { kind: 'mover', reason: 'globex reorg' }), 202);
    await eventually(async () => ((await admin.get(`${t}/people/${people.subject}/lifecycle`)).body.runs
      .some((r: { id: string; status: string }) => r.id === kickoff.body.runId && r.status === 'completed') ? true : undefined), 20_000, 'globex mover run');

    // Settle what runs in the background, so the before/after reads compare still resources.
    expect((await planSettles(admin, w.globex.id, plan)).body.status).to.equal('completed_with_failures');
    await eventually(async () => {
      const r = (await admin.get(`${t}/requests/${request}`)).body;
      return r.status === 'pending' && r.currentStage === 0 && r.stages.length === 1 ? true : undefined;
    }, 20_000, 'globex request\'s first stage to open');

    g = {
      t, token: { id: tokenRes.body.id, client: w.anonymous.as(tokenRes.body.secret) }, people, group, member, app, bundle, request,
      attribute, connector, plan, hold: held.body.holdId,
    };
    asAcmePerson = w.anonymous.as(await seedPersonToken(w.acme.id, await seedPerson(w.acme.id, 'Acme Approver'), Permissions));
  });
  after(async () => w.stop());

  // Globex's view of each resource, read with globex's own clients.
  const tokenState = async () => ({ revokedAt: (await w.asGlobex.get(`${g.t}/api-tokens/${g.token.id}`)).body.revokedAt, whoami: (await g.token.client.get('/v1/whoami')).status });
  const personState = async (id: string) => {
    const p = (await w.asGlobex.get(`${g.t}/people/${id}`)).body;
    return { status: p.status, displayName: p.displayName, profile: p.profile };
  };
  const membersState = async () => (await w.asGlobex.get(`${g.t}/groups/${g.group}/members`)).body.items.map((m: { id: string }) => m.id);
  const assignmentsState = async () => (await w.asGlobex.get(`${g.t}/applications/${g.app}/assignments`)).body.items
    .map((x: { id: string; personId: string }) => `${x.id}:${x.personId}`);
  const bundleState = async () => {
    const b = (await w.asGlobex.get(`${g.t}/bundles/${g.bundle}`)).body;
    return { version: b.version, name: b.name, items: b.items };
  };
  const requestState = async () => {
    const r = (await w.asGlobex.get(`${g.t}/requests/${g.request}`)).body;
    const history = (await w.asGlobex.get(`${g.t}/requests/${g.request}/history`)).body.items.map((e: { kind: string }) => e.kind);
    return { status: r.status, currentStage: r.currentStage, stages: r.stages, history };
  };
  const lifecycleState = async () => {
    const l = (await w.asGlobex.get(`${g.t}/people/${g.people.subject}/lifecycle`)).body;
    return { status: l.status, upcoming: l.upcoming, runs: l.runs.map((r: { id: string; kind: string; status: string }) => `${r.id}:${r.kind}:${r.status}`) };
  };
  const attributeState = async () => (await w.asGlobex.get(`${g.t}/profile-attributes/${g.attribute}`)).body;
  const connectorState = async () => {
    const c = (await w.asGlobex.get(`${g.t}/connectors/${g.connector}`)).body;
    return { name: c.name, config: c.config, updatedAt: c.updatedAt };
  };
  const planState = async () => {
    const p = (await w.asGlobex.get(`${g.t}/plans/${g.plan}`)).body;
    return { status: p.status, round: p.round, contentHash: p.contentHash, evidence: p.evidence.length };
  };
  const holdState = async () => (await w.asGlobex.get(`${g.t}/hr/holds`)).body.items.find((h: { id: string }) => h.id === g.hold);

  const bundleBody = () => ({
    name: 'acme-takeover', ownerPersonId: g.people.owner, items: [{ kind: 'group', id: g.group }],
    policy: { stages: [{ name: 'owner', approvers: [{ type: 'bundle_owner' }], quorum: { type: 'all' }, timeout: { afterSeconds: 600, action: 'expire' } }] },
  });
  const connectorBody = () => ({
    config: { enterprise: 'acme', shortcode: 'ac', organization: 'acme', apiBaseUrl: 'https://collector.acme.invalid' }, credentials: { token: 'a'.repeat(40) },
  });

  const cases: Case[] = [
    { route: 'GET api-tokens/:tokenId', when: 'reading globex\'s token', send: () => w.asAcme.get(`${a}/api-tokens/${g.token.id}`), target: () => g.token.id, state: tokenState },
    { route: 'DELETE api-tokens/:tokenId', when: 'revoking globex\'s token', send: () => w.asAcme.delete(`${a}/api-tokens/${g.token.id}`), target: () => g.token.id, state: tokenState },
    { route: 'GET people/:personId', when: 'reading a globex person', send: () => w.asAcme.get(`${a}/people/${g.people.subject}`), target: () => g.people.subject, state: () => personState(g.people.subject) },
    { route: 'GET groups/:groupId/members', when: 'listing a globex group\'s members', send: () => w.asAcme.get(`${a}/groups/${g.group}/members`), target: () => g.group, state: membersState },
    {
      route: 'DELETE groups/:groupId/members/:memberId', when: 'removing a globex member from a globex group',
      send: () => w.asAcme.delete(`${a}/groups/${g.group}/members/${g.member}`), target: () => g.group, state: membersState,
    },
    {
      route: 'POST applications/:applicationId/assignments', when: 'assigning a globex person to a globex application',
      send: () => w.asAcme.post(`${a}/applications/${g.app}/assignments`, { personId: g.people.requester }), target: () => g.app, state: assignmentsState,
    },
    {
      route: 'GET applications/:applicationId/assignments', when: 'listing a globex application\'s assignments',
      send: () => w.asAcme.get(`${a}/applications/${g.app}/assignments`), target: () => g.app, state: assignmentsState,
    },
    { route: 'GET bundles/:bundleId', when: 'reading a globex bundle', send: () => w.asAcme.get(`${a}/bundles/${g.bundle}`), target: () => g.bundle, state: bundleState },
    {
      route: 'PUT bundles/:bundleId', when: 'replacing a globex bundle\'s definition',
      send: () => w.asAcme.request('PUT', `${a}/bundles/${g.bundle}`, bundleBody()), target: () => g.bundle, state: bundleState,
    },
    { route: 'GET requests/:requestId', when: 'reading a globex request', send: () => w.asAcme.get(`${a}/requests/${g.request}`), target: () => g.request, state: requestState },
    {
      route: 'GET requests/:requestId/history', when: 'reading a globex request\'s history',
      send: () => w.asAcme.get(`${a}/requests/${g.request}/history`), target: () => g.request, state: requestState,
    },
    {
      route: 'POST requests/:requestId/decisions', when: 'an acme person approves a globex request',
      send: () => asAcmePerson.post(`${a}/requests/${g.request}/decisions`, { decision: 'approve', comment: 'cross-tenant' }), target: () => g.request, state: requestState,
    },
    {
      route: 'POST requests/:requestId/cancel', when: 'an acme administrator cancels a globex request',
      send: () => w.asAcme.post(`${a}/requests/${g.request}/cancel`, { reason: 'cross-tenant' }), target: () => g.request, state: requestState,
    },
    {
      route: 'POST requests/:requestId/cancel', when: 'an acme person cancels a globex request',
      send: () => asAcmePerson.post(`${a}/requests/${g.request}/cancel`, { reason: 'cross-tenant' }), target: () => g.request, state: requestState,
    },
    {
      route: 'GET people/:personId/lifecycle', when: 'reading a globex person\'s lifecycle',
      send: () => w.asAcme.get(`${a}/people/${g.people.subject}/lifecycle`), target: () => g.people.subject, state: lifecycleState,
    },
    {
      route: 'POST people/:personId/lifecycle/kickoff', when: 'kicking off a leaver run for a globex person',
      send: () => w.asAcme.post(`${a}/people/${g.people.subject}/lifecycle/kickoff`, { kind: 'leaver', reason: 'cross-tenant' }),
      target: () => g.people.subject, state: async () => ({ lifecycle: await lifecycleState(), person: await personState(g.people.subject) }),
    },
    {
      route: 'PATCH profile-attributes/:attributeId', when: 'changing a globex attribute',
      send: () => w.asAcme.request('PATCH', `${a}/profile-attributes/${g.attribute}`, { label: 'Taken', mutability: 'self_editable' }), target: () => g.attribute, state: attributeState,
    },
    { route: 'GET connectors/:connectorId', when: 'reading a globex connector', send: () => w.asAcme.get(`${a}/connectors/${g.connector}`), target: () => g.connector, state: connectorState },
    {
      route: 'PUT connectors/:connectorId', when: 'repointing a globex connector with new credentials',
      send: () => w.asAcme.request('PUT', `${a}/connectors/${g.connector}`, connectorBody()), target: () => g.connector, state: connectorState,
    },
    {
      route: 'POST connectors/:connectorId/test', when: 'testing a globex connector',
      send: () => w.asAcme.post(`${a}/connectors/${g.connector}/test`), target: () => g.connector, state: connectorState,
    },
    { route: 'GET plans/:planId', when: 'reading a globex plan', send: () => w.asAcme.get(`${a}/plans/${g.plan}`), target: () => g.plan, state: planState },
    { route: 'GET plans/:planId/export', when: 'exporting a globex plan', send: () => w.asAcme.get(`${a}/plans/${g.plan}/export`), target: () => g.plan, state: planState },
    { route: 'POST plans/:planId/retry', when: 'retrying a globex plan', send: () => w.asAcme.post(`${a}/plans/${g.plan}/retry`), target: () => g.plan, state: planState },
    { route: 'POST hr/holds/:holdId/approve', when: 'approving a globex hold', send: () => w.asAcme.post(`${a}/hr/holds/${g.hold}/approve`), target: () => g.hold, state: holdState },
    { route: 'POST hr/holds/:holdId/reject', when: 'rejecting a globex hold', send: () => w.asAcme.post(`${a}/hr/holds/${g.hold}/reject`), target: () => g.hold, state: holdState },
  ];

  for (const c of cases) {
    describe(`${c.route}, when ${c.when}`, () => {
      it('should answer 404 not_found and leave globex\'s resource unchanged', async () => {
        const before = await c.state();
        const res = await c.send();
        expect(res.status, JSON.stringify(res.body)).to.equal(404);
        expect(res.body.code).to.equal('not_found');
        expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
        expect(await c.state()).to.deep.equal(before);
        const audit = await w.asAcme.get(`${a}/audit-events?targetId=${c.target()}`);
        expect(audit.body.items, 'acme\'s audit log names globex\'s resource').to.deep.equal([]);
      });
    });
  }

  describe('DELETE groups/:groupId/members/:memberId, when naming a globex member under acme\'s own group', () => {
    it('should answer 404 not_found and leave the globex member in its group', async () => {
      const mine = check(await w.asAcme.post(`${a}/groups`, { name: 'acme-group' }), 201).body.id as string;
      const before = await membersState();
      expect(before).to.include(g.member);
      const res = await w.asAcme.delete(`${a}/groups/${mine}/members/${g.member}`);
      expect(res.status, JSON.stringify(res.body)).to.equal(404);
      expect(res.body.code).to.equal('not_found');
      expect(await membersState()).to.deep.equal(before);
    });
  });

  describe('after every attempt', () => {
    it('should leave globex\'s resources usable: the token works, the request is pending, the hold pending, the plan at round 1', async () => {
      expect((await g.token.client.get(`${g.t}/groups/${g.group}/members`)).status).to.equal(200);
      expect((await requestState()).status).to.equal('pending');
      expect(await holdState()).to.include({ status: 'pending', events: 6 });
      expect(await planState()).to.include({ status: 'completed_with_failures', round: 1 });
      expect((await bundleState()).version).to.equal(1);
      expect((await personState(g.people.subject)).status).to.equal('active');
    });
  });
});
