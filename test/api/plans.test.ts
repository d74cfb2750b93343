import { expect } from 'chai';
import { sql } from 'kysely';
import { canonicalJson } from '../../db/repositories/canonical-json';
import { idFromKey } from '../../db/repositories/ids';
import { insertPlan } from '../../db/repositories/plans';
import { createHash, randomUUID } from 'node:crypto';
import { testEnv } from '../support/env';
import { type ApiResponse, eventually, seedPerson } from '../support/fixtures';
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

    it('should write access edges with the plan as their source', async () => {
      const edges = await w.asAcme.get(`/v1/tenants/${w.acme.id}/access-edges?personId=${person}`);
      const fromPlan = (edges.body.items as { target: { kind: string; id: string }; sourceRef: string; source: string }[]).filter((e) => e.sourceRef === `plan:${planId}`);
      expect(fromPlan.map((e) => `${e.target.kind}:${e.target.id}`)).to.have.members([`group:${group}`, `role:${role}`]);
      expect(fromPlan.every((e) => e.source === 'direct')).to.equal(true);
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

    it('should list plans by origin, status and target', async () => {
      const byStatus = await w.asAcme.get(`${base}?status=completed&originKind=operator`);
      expect(byStatus.body.items.map((p: { id: string }) => p.id)).to.include(planId);
      const byTarget = await w.asAcme.get(`${base}?target=${encodeURIComponent(`role:${role}`)}`);
      expect(byTarget.body.items.map((p: { id: string }) => p.id)).to.include(planId);
      const none = await w.asAcme.get(`${base}?status=running&target=nobody`);
      expect(none.body.items).to.deep.equal([]);
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

    it('should complete the step with a valid token, and refuse a forged one and a replay, recording each refusal', async () => {
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

      const audit = await w.asAcme.get(`/v1/tenants/${w.acme.id}/audit-events?targetKind=provisioning_plan&targetId=${planId}`);
      const refusals = (audit.body.items as { action: string; details: { reason: string } }[]).filter((a) => a.action === 'plan.callback_refused').map((a) => a.details.reason);
      expect(refusals).to.deep.equal(['forged', 'forged', 'replayed']);
      expect(JSON.stringify(audit.body)).not.to.include(token);
      expect(JSON.stringify(done.body)).not.to.include(token);
    });

    it('should run other steps while steps wait for their callbacks, whatever the parallelism bound', async () => {
      // Four tickets fill the bound of four; the native steps after them run anyway.
      const tickets = [1, 2, 3, 4].map((i) => ({
        key: `ticket-${i}`, target: { system: 'portal' }, operation: 'manual_task', targetObject: `ticket:${i}`, parameters: { instructions: 'Wait' }, callbackDeadlineSeconds: 3,
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
