import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { listAudit } from '../../db/repositories/audit';
import { getPlanSummary, insertPlan, type PlanStepInput, planWorkflowId, recordStepSuccess, setPlanStatusAudited } from '../../db/repositories/plans';
import { seedTenant } from '../support/fixtures';
import { testEnv } from '../support/env';

const actor = { kind: 'system' as const, id: 'test' };

describe('provisioning plans (repository)', () => {
  let tenantId: string;
  beforeEach(async () => {
    tenantId = (await seedTenant('customer', 'plans')).id;
  });

  async function runningPlan(keys: string[]): Promise<string> {
    const planId = randomUUID();
    const steps: PlanStepInput[] = keys.map((key) => ({
      key, target: { system: 'portal' }, operation: 'add_to_group', targetObject: `group:${randomUUID()}`, parameters: { personId: randomUUID() }, dependsOn: [], callbackDeadlineSeconds: null,
    }));
    await testEnv().db.transaction().execute((tx) => insertPlan(tx, {
      id: planId, tenantId, origin: { kind: 'operator', id: 'test' }, reason: 'test', createdBy: actor, steps,
      initialStatus: { status: 'running', round: 1, succeeded: [], failed: [] },
    }));
    return planId;
  }

  const success = (planId: string, stepKey: string, attempt = 1) => recordStepSuccess(testEnv().db, {
    tenantId, planId, stepKey, round: 1, attempt, outcome: 'applied', calls: [], detail: {},
  });

  const completions = async (planId: string) => (await listAudit(testEnv().db, tenantId, { targetKind: 'provisioning_plan', targetId: planId }, null, 50))
    .items.filter((a) => a.action === 'plan.completed');

  describe('when the steps of a plan succeed at the same moment', () => {
    it('should have exactly one of them record the plan completed, with one audit event and the steps in plan order', async () => {
      const planId = await runningPlan(['a', 'b', 'c', 'd']);
      const results = await Promise.all(['d', 'b', 'a', 'c'].map((key) => success(planId, key)));
      expect(results.filter(Boolean)).to.have.length(1);
      const plan = await getPlanSummary(testEnv().db, tenantId, planId);
      expect(plan?.status).to.equal('completed');
      expect(plan?.succeeded).to.deep.equal(['a', 'b', 'c', 'd']);
      const events = await completions(planId);
      expect(events).to.have.length(1);
      expect(events[0]!.actor).to.deep.equal({ kind: 'workflow', id: planWorkflowId(planId) });
      expect(events[0]!.details).to.deep.equal({ round: 1, succeeded: ['a', 'b', 'c', 'd'], failed: [] });
    });
  });

  describe('when a step success is recorded again, or the run records the completion too', () => {
    it('should change nothing and append no second event', async () => {
      const planId = await runningPlan(['a', 'b']);
      expect(await success(planId, 'a')).to.equal(false);
      expect((await getPlanSummary(testEnv().db, tenantId, planId))?.succeeded).to.deep.equal(['a']);
      expect(await success(planId, 'a', 2)).to.equal(false);
      expect(await success(planId, 'b')).to.equal(true);
      expect(await success(planId, 'b')).to.equal(false);
      await setPlanStatusAudited(testEnv().db, { planId, round: 1, status: 'completed', succeeded: ['a', 'b'], failed: [] }, {
        tenantId, actor: { kind: 'workflow', id: planWorkflowId(planId) }, action: 'plan.completed', target: { kind: 'provisioning_plan', id: planId }, details: {},
      });
      expect(await completions(planId)).to.have.length(1);
    });
  });
});
