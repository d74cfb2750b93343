import { expect } from 'chai';
import { sql } from 'kysely';
import { canonicalJson } from '../../db/repositories/canonical-json';
import { createHash, randomUUID } from 'node:crypto';
import { startPlanRound } from '../../api/plan-execution';
import { grantEdge } from '../../db/repositories/access-edges';
import { appendAudits } from '../../db/repositories/audit';
import { idFromKey } from '../../db/repositories/ids';
import { insertPlan } from '../../db/repositories/plans';
import { testEnv } from '../support/env';
import { type ApiResponse, eventually, seedPerson, seedToken } from '../support/fixtures';
import { planSettles } from '../support/plans';
import { stepCallbackUpdate } from '../../workflows/messages';
import { createWorld, type World } from '../support/world';

/** The callback token delivered through the outbox for a step's round. */
async function deliveredToken(planId: string, stepKey: string, count = 1): Promise<string> {
  return eventually(async () => {
    const rows = await testEnv().db.selectFrom('outbox_messages').select('body').where('kind', '=', 'plan.manual_task')
      .where(sql<boolean>`body->>'planId' = ${planId}`).where(sql<boolean>`body->>'stepKey' = ${stepKey}`).orderBy('created_at').execute();
    return rows.length >= count ? String((rows[count - 1]!.body as { token: string }).token) : undefined;
  }, 15_000, 'a delivered callback token');
}

describe('provisioning plans API', () => {
  let w: World;
  let base: string;
  let person: string;
  let group: string;
  let role: string;

  before(async () => {
    w = await createWorld();
    base = `/v1/tenants/${w.acme.id}/plans`;
    person = await seedPerson(w.acme.id, 'Plan Subject');
    group = (await w.asAcme.post(`/v1/tenants/${w.acme.id}/groups`, { name: `plan-group-${Date.now()}` })).body.id;
    role = (await w.asAcme.post(`/v1/tenants/${w.acme.id}/roles`, { name: `plan-role-${Date.now()}` })).body.id;
  });
  after(async () => w.stop());

  const nativeSteps = () => [
    { key: 'join', target: { system: 'portal' }, operation: 'add_to_group', targetObject: `group:${group}`, parameters: { personId: person } },
    { key: 'role', target: { system: 'portal' }, operation: 'assign', targetObject: `role:${role}`, parameters: { personId: person }, dependsOn: ['join'] },
  ];
  /** The native steps and a manual task whose callback is due within `deadline` seconds. */
  const manual = (deadline: number) => [
    ...nativeSteps(),
    { key: 'laptop', target: { system: 'portal' }, operation: 'manual_task', targetObject: 'ticket:laptop', parameters: { instructions: 'Ship a laptop' }, dependsOn: ['join'], callbackDeadlineSeconds: deadline },
  ];

  describe('when an operator creates a plan of Portal-native steps', () => {
    let planId: string;
    let settled: ApiResponse;

    before(async () => {
      const res = await w.asAcme.post(base, { reason: 'onboarding by hand', steps: nativeSteps() }, { 'idempotency-key': `native-${Date.now()}` });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.headers.get('location')).to.equal(`${base}/${res.body.id}`);
      expect(res.body.workflowId).to.equal(`plan:${res.body.id}`);
      planId = res.body.id;
      settled = await planSettles(w.asOperator, w.acme.id, planId);
    });

    it('should execute the steps in dependency order and record evidence for each', () => {
      expect(settled.body.status).to.equal('completed');
      expect(settled.body.succeeded).to.have.members(['join', 'role']);
      const evidence = settled.body.evidence as { stepKey: string; outcome: string }[];
      expect(evidence.map((e) => [e.stepKey, e.outcome])).to.deep.equal([['join', 'applied'], ['role', 'applied']]);
      expect(settled.body.steps.map((s: { state: string }) => s.state)).to.deep.equal(['applied', 'applied']);
    });

    it('should add the group membership as the API does, and write the role edge with the plan as its source', async () => {
      const members = await w.asAcme.get(`/v1/tenants/${w.acme.id}/groups/${group}/members`);
      const member = (members.body.items as { id: string; member: { id: string } }[]).find((m) => m.member.id === person);
      expect(member, 'a membership row').to.not.equal(undefined);
      const edges = (await w.asAcme.get(`/v1/tenants/${w.acme.id}/access-edges?personId=${person}`)).body.items as { target: { kind: string; id: string }; sourceRef: string; source: string }[];
      expect(edges.filter((e) => e.sourceRef === `plan:${planId}`).map((e) => `${e.target.kind}:${e.target.id}:${e.source}`)).to.deep.equal([`role:${role}:direct`]);
      expect(edges.filter((e) => e.sourceRef === `group_member:${member!.id}`).map((e) => `${e.target.kind}:${e.target.id}:${e.source}`)).to.deep.equal([`group:${group}:direct`]);
    });

    it('should keep the plan immutable: the database refuses updates and deletes of plans, steps and evidence', async () => {
      const db = testEnv().db;
      for (const attempt of [
        () => db.updateTable('provisioning_plans').set({ reason: 'rewritten' }).where('id', '=', planId).execute(),
        () => db.deleteFrom('provisioning_plans').where('id', '=', planId).execute(),
        () => db.updateTable('provisioning_plan_steps').set({ target_object: 'x' }).where('plan_id', '=', planId).execute(),
        () => db.updateTable('provisioning_step_evidence').set({ outcome: 'failed_terminal' }).where('plan_id', '=', planId).execute(),
        () => db.deleteFrom('provisioning_step_evidence').where('plan_id', '=', planId).execute(),
      ]) {
        let refused: Error | null = null;
        try {
          await attempt();
        } catch (err) {
          refused = err as Error;
        }
        expect(refused?.message).to.match(/append-only/);
      }
    });

    it('should export the plan with evidence and a content hash an auditor can recompute', async () => {
      const res = await w.asAcme.get(`${base}/${planId}/export`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-disposition')).to.include(`plan-${planId}.json`);
      const recomputed = `sha256:${createHash('sha256').update(canonicalJson(res.body.plan.content)).digest('hex')}`;
      expect(recomputed).to.equal(res.body.plan.contentHash);
      expect(res.body.evidence).to.have.length(2);
      expect(res.body.audit.map((a: { action: string }) => a.action)).to.include.members(['plan.created', 'plan.completed']);
      // The audit event names the API request that created the plan.
      expect(res.body.audit.find((a: { action: string }) => a.action === 'plan.created').requestId).to.be.a('string');
      expect(res.body).not.to.have.property('auditOmitted');
    });

    it('should leave the audit trail out of the export for a caller who may view plans but not the audit log', async () => {
      const viewer = w.anonymous.as(await seedToken(w.acme.id, ['portal.plans.view']));
      const res = await viewer.get(`${base}/${planId}/export`);
      expect(res.status).to.equal(200);
      expect(res.body.evidence).to.have.length(2);
      expect(res.body.audit).to.equal(null);
      expect(res.body.auditOmitted).to.match(/portal\.audit\.view/);
    });

    it('should answer a repeated create with the same Idempotency-Key with the same plan', async () => {
      const key = `repeat-${Date.now()}`;
      const first = await w.asAcme.post(base, { reason: 'repeat', steps: nativeSteps() }, { 'idempotency-key': key });
      const second = await w.asAcme.post(base, { reason: 'repeat', steps: nativeSteps() }, { 'idempotency-key': key });
      expect(second.status).to.equal(202);
      expect(second.body.id).to.equal(first.body.id);
      const done = await planSettles(w.asOperator, w.acme.id, first.body.id);
      // One plan, executed once: one piece of evidence per step.
      expect(done.body.evidence.map((e: { stepKey: string }) => e.stepKey)).to.deep.equal(['join', 'role']);
      const rows = await testEnv().db.selectFrom('provisioning_plans').select('id').where('id', '=', first.body.id).execute();
      expect(rows).to.have.length(1);
    });

    it('should refuse the same Idempotency-Key with another body, and change nothing', async () => {
      const key = `reused-${Date.now()}`;
      const first = await w.asAcme.post(base, { reason: 'reused key', steps: nativeSteps() }, { 'idempotency-key': key });
      expect(first.status).to.equal(202);
      const other = await w.asAcme.post(base, { reason: 'something else', steps: nativeSteps() }, { 'idempotency-key': key });
      expect(other.status).to.equal(409);
      expect(other.body.code).to.equal('idempotency_key_reused');
      const plans = await testEnv().db.selectFrom('provisioning_plans').select(['id', 'reason']).where('tenant_id', '=', w.acme.id)
        .where('reason', 'in', ['reused key', 'something else']).execute();
      expect(plans).to.deep.equal([{ id: first.body.id, reason: 'reused key' }]);
      // The same body again is still the same plan.
      const again = await w.asAcme.post(base, { reason: 'reused key', steps: nativeSteps() }, { 'idempotency-key': key });
      expect(again.status).to.equal(202);
      expect(again.body.id).to.equal(first.body.id);
      await planSettles(w.asOperator, w.acme.id, first.body.id);
    });

    it('should list plans by origin, status and target', async () => {
      const byStatus = await w.asAcme.get(`${base}?status=completed&originKind=operator`);
      expect(byStatus.body.items.map((p: { id: string }) => p.id)).to.include(planId);
      const byTarget = await w.asAcme.get(`${base}?target=${encodeURIComponent(`role:${role}`)}`);
      expect(byTarget.body.items.map((p: { id: string }) => p.id)).to.include(planId);
      const none = await w.asAcme.get(`${base}?status=running&target=nobody`);
      expect(none.body.items).to.deep.equal([]);
    });
  });

  describe('when an operator plan adds and removes access', () => {
    type Edge = { target: { kind: string; id: string }; source: string; sourceRef: string; viaGroupId: string | null };
    const acmeId = () => w.acme.id;
    const liveEdges = async (personId: string, target: string): Promise<Edge[]> =>
      ((await w.asAcme.get(`/v1/tenants/${acmeId()}/access-edges?personId=${personId}`)).body.items as Edge[]).filter((e) => `${e.target.kind}:${e.target.id}` === target);
    const newGroup = async (label: string) => (await w.asAcme.post(`/v1/tenants/${acmeId()}/groups`, { name: `${label}-${Date.now()}-${Math.random()}` })).body.id as string;
    const runPlan = async (steps: unknown[]) => {
      const res = await w.asAcme.post(base, { reason: 'operator access change', steps });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      return planSettles(w.asOperator, w.acme.id, res.body.id);
    };
    /** A request's grant, as the grant transaction writes it. */
    const requestGrant = (personId: string, kind: 'group' | 'role' | 'application', id: string) => grantEdge(testEnv().db, {
      tenantId: acmeId(), personId, targetKind: kind, targetId: id, source: 'iga_grant', trust: 'governed', sourceRef: `access_request:${randomUUID()}`,
    });
    const step = (key: string, operation: string, targetObject: string, personId: string) =>
      ({ key, target: { system: 'portal' }, operation, targetObject, parameters: { personId } });

    it('should derive the groups that contain the group it adds the person to', async () => {
      const subject = await seedPerson(w.acme.id, 'Nested Joiner');
      const [parent, child] = [await newGroup('parent'), await newGroup('child')];
      expect((await w.asAcme.post(`/v1/tenants/${acmeId()}/groups/${parent}/members`, { groupId: child })).status).to.equal(201);
      const done = await runPlan([step('join', 'add_to_group', `group:${child}`, subject)]);
      expect(done.body.status).to.equal('completed');
      expect((await liveEdges(subject, `group:${parent}`)).map((e) => [e.source, e.viaGroupId])).to.deep.equal([['group', child]]);
    });

    it('should remove a group membership, a request\'s grant and the groups derived through them, and say so in its evidence', async () => {
      const subject = await seedPerson(w.acme.id, 'Group Leaver');
      const [parent, target] = [await newGroup('parent'), await newGroup('target')];
      await w.asAcme.post(`/v1/tenants/${acmeId()}/groups/${parent}/members`, { groupId: target });
      expect((await w.asAcme.post(`/v1/tenants/${acmeId()}/groups/${target}/members`, { personId: subject })).status).to.equal(201);
      await requestGrant(subject, 'group', target);
      expect((await liveEdges(subject, `group:${target}`)).map((e) => e.source)).to.have.members(['direct', 'iga_grant']);

      const done = await runPlan([step('leave', 'remove_from_group', `group:${target}`, subject)]);
      expect(done.body.status).to.equal('completed');
      expect(done.body.evidence.map((e: { outcome: string }) => e.outcome)).to.deep.equal(['applied']);
      expect(await liveEdges(subject, `group:${target}`)).to.deep.equal([]);
      expect(await liveEdges(subject, `group:${parent}`)).to.deep.equal([]);
      const members = await w.asAcme.get(`/v1/tenants/${acmeId()}/groups/${target}/members`);
      expect((members.body.items as { member: { id: string } }[]).map((m) => m.member.id)).not.to.include(subject);

      // Nothing left to remove: the same removal again is already in that state.
      const again = await runPlan([step('leave', 'remove_from_group', `group:${target}`, subject)]);
      expect(again.body.evidence.map((e: { outcome: string }) => e.outcome)).to.deep.equal(['already_in_state']);
    });

    it('should keep a group the person holds through a nested group, naming it in the evidence', async () => {
      const subject = await seedPerson(w.acme.id, 'Nested Member');
      const [outer, inner] = [await newGroup('outer'), await newGroup('inner')];
      await w.asAcme.post(`/v1/tenants/${acmeId()}/groups/${outer}/members`, { groupId: inner });
      await w.asAcme.post(`/v1/tenants/${acmeId()}/groups/${inner}/members`, { personId: subject });
      await w.asAcme.post(`/v1/tenants/${acmeId()}/groups/${outer}/members`, { personId: subject });
      const done = await runPlan([step('leave', 'remove_from_group', `group:${outer}`, subject)]);
      expect(done.body.evidence[0].outcome).to.equal('applied');
      expect(done.body.evidence[0].detail.stillHeldViaGroups).to.deep.equal([inner]);
      expect((await liveEdges(subject, `group:${outer}`)).map((e) => [e.source, e.viaGroupId])).to.deep.equal([['group', inner]]);
    });

    it('should unassign a role and an application from every source', async () => {
      const subject = await seedPerson(w.acme.id, 'Unassigned');
      const app = (await w.asAcme.post(`/v1/tenants/${acmeId()}/applications`, { name: `plan-app-${Date.now()}` })).body.id as string;
      expect((await w.asAcme.post(`/v1/tenants/${acmeId()}/applications/${app}/assignments`, { personId: subject })).status).to.equal(201);
      await requestGrant(subject, 'application', app);
      const granted = await runPlan([step('role', 'assign', `role:${role}`, subject)]);
      expect(granted.body.status).to.equal('completed');
      await requestGrant(subject, 'role', role);

      const done = await runPlan([step('role', 'unassign', `role:${role}`, subject), step('app', 'unassign', `application:${app}`, subject)]);
      expect(done.body.evidence.map((e: { stepKey: string; outcome: string }) => `${e.stepKey}:${e.outcome}`)).to.have.members(['role:applied', 'app:applied']);
      expect(await liveEdges(subject, `role:${role}`)).to.deep.equal([]);
      expect(await liveEdges(subject, `application:${app}`)).to.deep.equal([]);
      const assignments = await w.asAcme.get(`/v1/tenants/${acmeId()}/applications/${app}/assignments`);
      expect((assignments.body.items as { personId: string }[]).map((a) => a.personId)).not.to.include(subject);
    });

    it('should refuse a step that names the edge\'s source or source reference, and store nothing', async () => {
      const forged = { ...step('grant', 'add_to_group', `group:${group}`, person), parameters: { personId: person, source: 'iga_grant', sourceRef: 'access_request:forged' } };
      const res = await w.asAcme.post(base, { reason: 'forged grant', steps: [forged] });
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.have.members(['body.steps[0].parameters.source', 'body.steps[0].parameters.sourceRef']);
      const stored = await testEnv().db.selectFrom('provisioning_plans').select('id').where('tenant_id', '=', acmeId()).where('reason', '=', 'forged grant').execute();
      expect(stored).to.deep.equal([]);
    });

    it('should refuse, with evidence, a stored operator plan that names a grant, and run one stored with the old default', async () => {
      const subject = await seedPerson(w.acme.id, 'Stored Plan Subject');
      const planId = randomUUID();
      await testEnv().db.transaction().execute((tx) => insertPlan(tx, {
        id: planId, tenantId: acmeId(), origin: { kind: 'operator', id: 'legacy' }, reason: 'stored before the API refused sources', createdBy: { kind: 'api_token', id: 'legacy' },
        steps: [
          { key: 'legacy', target: { system: 'portal' }, operation: 'assign', targetObject: `role:${role}`, parameters: { personId: subject, source: 'direct' }, dependsOn: [], callbackDeadlineSeconds: null },
          { key: 'forged', target: { system: 'portal' }, operation: 'add_to_group', targetObject: `group:${group}`, parameters: { personId: subject, source: 'iga_grant', sourceRef: 'access_request:forged' }, dependsOn: [], callbackDeadlineSeconds: null },
        ],
      }));
      await startPlanRound({ client: testEnv().client, taskQueue: w.worker.taskQueue }, { tenantId: acmeId(), planId, round: 1, origin: 'operator' });
      const done = await planSettles(w.asOperator, w.acme.id, planId);
      expect(done.body.failed).to.deep.equal(['forged']);
      expect(done.body.succeeded).to.deep.equal(['legacy']);
      const forged = (done.body.evidence as { stepKey: string; outcome: string; error: { message: string } }[]).find((e) => e.stepKey === 'forged');
      expect(forged?.outcome).to.equal('failed_terminal');
      expect(forged?.error.message).to.match(/invalid step parameters/);
      expect(await liveEdges(subject, `group:${group}`)).to.deep.equal([]);
    });
  });

  describe('when a plan has more audit events than a page holds', () => {
    it('should export every one of them, its end included', async () => {
      const planId = randomUUID();
      await testEnv().db.transaction().execute((tx) => insertPlan(tx, {
        id: planId, tenantId: w.acme.id, origin: { kind: 'operator', id: 'audit' }, reason: 'many refused callbacks', createdBy: { kind: 'api_token', id: 'audit' },
        steps: [{ key: 'role', target: { system: 'portal' }, operation: 'assign', targetObject: `role:${role}`, parameters: { personId: person }, dependsOn: [], callbackDeadlineSeconds: null }],
      }));
      // Forged callbacks anyone can send, each refused and audited, before the plan ends.
      await appendAudits(testEnv().db, Array.from({ length: 450 }, () => ({
        tenantId: w.acme.id, actor: { kind: 'system' as const, id: 'callback' }, action: 'plan.callback_refused',
        target: { kind: 'provisioning_plan', id: planId }, details: { stepKey: 'role', reason: 'forged' },
      })));
      await startPlanRound({ client: testEnv().client, taskQueue: w.worker.taskQueue }, { tenantId: w.acme.id, planId, round: 1, origin: 'operator' });
      await planSettles(w.asOperator, w.acme.id, planId);
      const exported = await w.asAcme.get(`${base}/${planId}/export`);
      const actions = (exported.body.audit as { action: string }[]).map((a) => a.action);
      expect(actions).to.have.length(452);
      expect(actions[0]).to.equal('plan.created');
      expect(actions.at(-1)).to.equal('plan.completed');
    });
  });

  describe('when a plan is not valid', () => {
    const cases: { name: string; steps: () => unknown[]; path: RegExp }[] = [
      { name: 'a dependency cycle', path: /body\.steps/, steps: () => [{ ...nativeSteps()[0], dependsOn: ['role'] }, nativeSteps()[1]] },
      { name: 'an unknown dependency', path: /body\.steps/, steps: () => [{ ...nativeSteps()[0], dependsOn: ['ghost'] }] },
      { name: 'a group of another tenant', path: /body\.steps\[0\]\.targetObject/, steps: () => [{ ...nativeSteps()[0], targetObject: 'group:00000000-0000-4000-8000-000000000000' }] },
      { name: 'a missing connector', path: /body\.steps\[0\]\.target\.connectorId/, steps: () => [{ key: 'x', target: { system: 'connector', connectorId: '00000000-0000-4000-8000-000000000000' }, operation: 'disable_account', parameters: { userName: 'a@b' } }] },
      { name: 'an operation Portal-native targets lack', path: /body\.steps\[0\]\.operation/, steps: () => [{ ...nativeSteps()[0], operation: 'create_account' }] },
    ];
    for (const c of cases) {
      it(`should refuse ${c.name} with validation_failed and store nothing`, async () => {
        const before = await testEnv().db.selectFrom('provisioning_plans').select((eb) => eb.fn.countAll<string>().as('n')).where('tenant_id', '=', w.acme.id).executeTakeFirstOrThrow();
        const res = await w.asAcme.post(base, { reason: 'bad', steps: c.steps() });
        expect(res.status, JSON.stringify(res.body)).to.equal(400);
        expect(res.body.code).to.equal('validation_failed');
        expect(res.body.errors.map((e: { path: string }) => e.path).join(' ')).to.match(c.path);
        const after = await testEnv().db.selectFrom('provisioning_plans').select((eb) => eb.fn.countAll<string>().as('n')).where('tenant_id', '=', w.acme.id).executeTakeFirstOrThrow();
        expect(Number(after.n)).to.equal(Number(before.n));
      });
    }
  });

  describe('when a step awaits a callback', () => {
    const callback = (planId: string, stepKey: string, token: string) =>
      w.anonymous.post(`/v1/callbacks/plans/${planId}/steps/${stepKey}`, { token, result: 'completed', detail: { ticket: 'INC-42' } });

    it('should complete the step with a valid token, refuse a forged token, one for another step and a replay, and audit the refusals of tokens Portal signed', async () => {
      const created = await w.asAcme.post(base, { reason: 'laptop', steps: manual(60) });
      const planId = created.body.id;
      const token = await deliveredToken(planId, 'laptop');
      await eventually(async () => ((await w.asAcme.get(`${base}/${planId}`)).body.steps[2].state === 'awaiting_callback' ? true : undefined));

      const [payload, mac] = token.split('.');
      const forged = `${payload}.${Buffer.from(Buffer.from(mac!, 'base64url').map((b) => b ^ 1)).toString('base64url')}`;
      const refusedForged = await callback(planId, 'laptop', forged);
      expect(refusedForged.status).to.equal(401);
      expect(refusedForged.body.code).to.equal('callback_token_invalid');
      // A token for one step does not complete another.
      expect((await callback(planId, 'join', token)).body.code).to.equal('callback_token_invalid');

      const accepted = await callback(planId, 'laptop', token);
      expect(accepted.status, JSON.stringify(accepted.body)).to.equal(200);
      const replay = await callback(planId, 'laptop', token);
      expect(replay.status).to.equal(409);
      expect(replay.body.code).to.equal('callback_token_used');

      const done = await planSettles(w.asOperator, w.acme.id, planId);
      expect(done.body.status).to.equal('completed');
      const laptop = (done.body.evidence as { stepKey: string; outcome: string; detail: { callback?: unknown } }[]).filter((e) => e.stepKey === 'laptop');
      expect(laptop.map((e) => e.outcome)).to.deep.equal(['awaiting_callback', 'applied']);
      expect(laptop[1]!.detail.callback).to.deep.equal({ ticket: 'INC-42' });

      // Refusals of tokens Portal signed are audited (the one used for another step, the replay); a token it
      // never signed is refused without a trace in the tenant's trail.
      const audit = await w.asAcme.get(`/v1/tenants/${w.acme.id}/audit-events?targetKind=provisioning_plan&targetId=${planId}`);
      const refusals = (audit.body.items as { action: string; details: { reason: string } }[]).filter((a) => a.action === 'plan.callback_refused').map((a) => a.details.reason);
      expect(refusals).to.deep.equal(['forged', 'replayed']);
      expect(JSON.stringify(audit.body)).not.to.include(token);
      expect(JSON.stringify(done.body)).not.to.include(token);
    });

    it('should answer an unsigned token the same whether the plan exists or not, and record nothing', async () => {
      const created = await w.asAcme.post(base, { reason: 'oracle', steps: manual(60) });
      const planId = created.body.id as string;
      const token = await deliveredToken(planId, 'laptop');
      const auditCount = async () => Number((await testEnv().db.selectFrom('audit_events').select((eb) => eb.fn.countAll<string>().as('n'))
        .where('tenant_id', '=', w.acme.id).where('action', '=', 'plan.callback_refused').where('target_id', '=', planId).executeTakeFirstOrThrow()).n);
      const before = await auditCount();
      const known = await callback(planId, 'laptop', 'not-a-token');
      const unknown = await callback(randomUUID(), 'laptop', 'not-a-token');
      for (const res of [known, unknown]) {
        expect(res.status).to.equal(401);
        expect(res.body.code).to.equal('callback_token_invalid');
      }
      expect(unknown.body.title).to.equal(known.body.title);
      expect(await auditCount()).to.equal(before);
      // A token Portal signed, sent for another plan: refused the same way, and audited on its own plan.
      const elsewhere = await callback(randomUUID(), 'laptop', token);
      expect([elsewhere.status, elsewhere.body.code]).to.deep.equal([401, 'callback_token_invalid']);
      expect(await auditCount()).to.equal(before + 1);
    });

    it('should run other steps while steps wait for their callbacks, whatever the parallelism bound', async () => {
      // Four tickets fill the bound of four; the native steps after them run anyway.
      const tickets = [1, 2, 3, 4].map((i) => ({
        key: `ticket-${i}`, target: { system: 'portal' }, operation: 'manual_task', targetObject: `ticket:${i}`, parameters: { instructions: 'Wait' }, callbackDeadlineSeconds: 10,
      }));
      const created = await w.asAcme.post(base, { reason: 'tickets', steps: [...tickets, ...nativeSteps()] });
      const planId = created.body.id as string;
      const read = await eventually(async () => {
        const res = await w.asAcme.get(`${base}/${planId}`);
        return (res.body.succeeded as string[]).includes('role') ? res : undefined;
      }, 15_000, 'the native steps to run while the tickets wait');
      expect(read.body.status).to.equal('running');
      expect(read.body.steps.filter((s: { key: string; state: string }) => s.key.startsWith('ticket-')).map((s: { state: string }) => s.state))
        .to.deep.equal(['awaiting_callback', 'awaiting_callback', 'awaiting_callback', 'awaiting_callback']);
      const done = await planSettles(w.asOperator, w.acme.id, planId);
      expect(done.body.failed).to.have.members(tickets.map((t) => t.key));
    });

    it('should refuse a callback for a step not yet waiting as early (worth repeating), apart from a wrong token', async () => {
      const created = await w.asAcme.post(base, { reason: 'two tickets', steps: [
        { key: 'first', target: { system: 'portal' }, operation: 'manual_task', targetObject: 'ticket:1', parameters: { instructions: 'First' }, callbackDeadlineSeconds: 2 },
        { key: 'second', target: { system: 'portal' }, operation: 'manual_task', targetObject: 'ticket:2', parameters: { instructions: 'Then' }, dependsOn: ['first'], callbackDeadlineSeconds: 30 },
      ] });
      const handle = testEnv().client.workflow.getHandle(`plan:${created.body.id}`);
      await deliveredToken(created.body.id, 'first');
      const refusal = (stepKey: string) => handle.executeUpdate(stepCallbackUpdate, { args: [{ stepKey, tokenId: randomUUID(), result: 'completed', detail: {} }] })
        .then(() => 'accepted', (err: { cause?: { message?: string } }) => err.cause?.message);
      expect(await refusal('second')).to.equal('step_not_awaiting_callback_yet');
      // Waiting now, but not for this token.
      expect(await refusal('first')).to.equal('callback_token_not_current');
    });

    it('should end the step unverifiable at its deadline, refuse the late token, and let an operator retry only what failed', async () => {
      const created = await w.asAcme.post(base, { reason: 'late laptop', steps: manual(2) });
      const planId = created.body.id;
      const token = await deliveredToken(planId, 'laptop');
      const done = await planSettles(w.asOperator, w.acme.id, planId);
      expect(done.body.status).to.equal('completed_with_failures');
      expect(done.body.failed).to.deep.equal(['laptop']);
      expect(done.body.steps[2].state).to.equal('unverifiable');

      const late = await callback(planId, 'laptop', token);
      expect(late.status).to.equal(410);
      expect(late.body.code).to.equal('callback_token_expired');

      const retry = await w.asAcme.post(`${base}/${planId}/retry`);
      expect(retry.status, JSON.stringify(retry.body)).to.equal(202);
      expect(retry.body.round).to.equal(2);
      const secondToken = await deliveredToken(planId, 'laptop', 2);
      expect(secondToken).not.to.equal(token);
      await eventually(async () => ((await callback(planId, 'laptop', secondToken)).status === 200 ? true : undefined));
      const after = await planSettles(w.asOperator, w.acme.id, planId, ['completed']);
      expect(after.body.round).to.equal(2);
      const evidence = after.body.evidence as { stepKey: string; outcome: string; round: number }[];
      // The steps that had succeeded did not run again; the failed one has both rounds' evidence.
      expect(evidence.filter((e) => e.stepKey !== 'laptop').map((e) => e.round)).to.deep.equal([1, 1]);
      expect(evidence.filter((e) => e.stepKey === 'laptop').map((e) => `${e.round}:${e.outcome}`))
        .to.deep.equal(['1:awaiting_callback', '1:unverifiable', '2:awaiting_callback', '2:applied']);
      // The plan itself did not change.
      expect(after.body.contentHash).to.equal(done.body.contentHash);

      const again = await w.asAcme.post(`${base}/${planId}/retry`);
      expect(again.status).to.equal(409);
      expect(again.body.code).to.equal('plan_not_retryable');
    });
  });
  describe('when a plan\'s start or retry is repeated', () => {
    /** Records a plan as Portal's flows do, without starting a run (an engine away, or a run long forgotten). */
    const recordOnly = async (id: string, status: 'pending' | 'completed') => {
      await testEnv().db.transaction().execute((tx) => insertPlan(tx, {
        id, tenantId: w.acme.id, origin: { kind: 'operator', id: 'test' }, reason: 'recorded only', createdBy: { kind: 'system', id: 'test' },
        steps: nativeSteps().map((s) => ({ ...s, target: { system: 'portal' as const }, dependsOn: s.dependsOn ?? [], callbackDeadlineSeconds: null })),
        ...(status === 'completed' ? { initialStatus: { status, round: 1, succeeded: ['join', 'role'], failed: [] } } : {}),
      }));
    };
    const hasRun = async (planId: string) => testEnv().client.workflow.getHandle(`plan:${planId}`).describe().then(() => true, () => false);

    it('should not run a finished plan again when its create is repeated after the engine forgot its run', async () => {
      // The plan an earlier create with this key recorded and ran; its run is past the namespace's retention.
      const key = `forgotten-${Date.now()}`;
      const planId = idFromKey(`plan:operator:${w.acme.id}`, key);
      await recordOnly(planId, 'completed');
      const again = await w.asAcme.post(base, { reason: 'recorded only', steps: nativeSteps() }, { 'idempotency-key': key });
      expect(again.status, JSON.stringify(again.body)).to.equal(202);
      expect(again.body.id).to.equal(planId);
      expect(again.body.status).to.equal('completed');
      expect(await hasRun(planId)).to.equal(false);
    });

    it('should start, on retry, a plan recorded but never started', async () => {
      const stranded = randomUUID();
      await recordOnly(stranded, 'pending');
      const res = await w.asAcme.post(`${base}/${stranded}/retry`);
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.body.round).to.equal(1);
      const done = await planSettles(w.asOperator, w.acme.id, stranded);
      expect(done.body.status).to.equal('completed');
      expect(done.body.round).to.equal(1);
    });

    it('should let exactly one of two concurrent retries start the next round', async () => {
      const created = await w.asAcme.post(base, { reason: 'two operators', steps: manual(1) });
      const planId = created.body.id as string;
      const failed = await planSettles(w.asOperator, w.acme.id, planId);
      expect(failed.body.status).to.equal('completed_with_failures');
      const answers = await Promise.all([w.asAcme.post(`${base}/${planId}/retry`), w.asAcme.post(`${base}/${planId}/retry`)]);
      expect(answers.map((a) => a.status).sort()).to.deep.equal([202, 409]);
      expect(answers.find((a) => a.status === 409)!.body.code).to.equal('plan_running');
      const after = await planSettles(w.asOperator, w.acme.id, planId);
      expect(after.body.round).to.equal(2);
      const audit = await w.asAcme.get(`/v1/tenants/${w.acme.id}/audit-events?targetKind=provisioning_plan&targetId=${planId}`);
      expect((audit.body.items as { action: string }[]).filter((a) => a.action === 'plan.retry_requested')).to.have.length(1);
    });
  });
});
