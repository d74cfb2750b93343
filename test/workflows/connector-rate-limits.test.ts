import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createConnectorInstance } from '../../db/repositories/connector-instances';
import { insertPlan, planGraph, type PlanStepInput, planWorkflowId } from '../../db/repositories/plans';
import { createTenant } from '../../db/repositories/tenants';
import { encryptSecret } from '../../workers/secrets';
import { startGithubEnterpriseFake } from '../fakes/github-enterprise';
import type { ConformanceFake } from '../support/connector-conformance';
import { testEnv } from '../support/env';
import { type RunningWorker, startWorker, testSecretKey } from '../support/fixtures';

describe('vendor rate limits', () => {
  let github: ConformanceFake;
  let worker: RunningWorker;

  before(async () => {
    github = await startGithubEnterpriseFake();
    // Two steps a second per connector instance (the test server runs with task-queue fairness on).
    worker = await startWorker(undefined, { connectorKinds: ['github_enterprise'], connectorRateLimitPerSecond: 2, connectorRateLimitScope: 'instance' });
  });
  after(async () => {
    await worker?.stop();
    await github?.close();
  });

  it('should apply per connector instance when so scoped: one tenant\'s backlog does not hold up another tenant\'s steps', async () => {
    const { db, client } = testEnv();
    const instanceOf = async (slug: string) => {
      const tenant = (await createTenant(db, { kind: 'customer', slug: `${slug}-${randomUUID().slice(0, 8)}`, name: slug }))!;
      const instance = (await createConnectorInstance(db, {
        tenantId: tenant.id, kind: 'github_enterprise', name: 'github', config: github.config as Record<string, unknown>,
        credentialsCiphertext: encryptSecret(testSecretKey, JSON.stringify(github.credentials)),
      }))!;
      return { tenantId: tenant.id, instanceId: instance.id };
    };
    let n = 0;
    const startPlan = async ({ tenantId, instanceId }: { tenantId: string; instanceId: string }, count: number) => {
      const steps: PlanStepInput[] = Array.from({ length: count }, (_, i) => {
        const account = github.account(7000 + (n += 1));
        return {
          key: `account-${i}`, target: { system: 'connector', connectorInstanceId: instanceId, connectorKind: 'github_enterprise' }, operation: 'create_account',
          targetObject: account.userName, parameters: { account }, dependsOn: [], callbackDeadlineSeconds: null,
        };
      });
      const planId = randomUUID();
      await db.transaction().execute((tx) => insertPlan(tx, {
        id: planId, tenantId, origin: { kind: 'operator', id: 'test' }, reason: 'rate limits', createdBy: { kind: 'system', id: 'test' }, steps,
        initialStatus: { status: 'running', round: 1, succeeded: [], failed: [] },
      }));
      const handle = await client.workflow.start('provisioningPlan', {
        taskQueue: worker.taskQueue, workflowId: planWorkflowId(planId), args: [{ tenantId, planId, round: 1, graph: planGraph(steps), maxParallel: 12 }],
      });
      return handle.result().then(() => Date.now());
    };
    const [busy, quiet] = [await instanceOf('busy'), await instanceOf('quiet')];
    // Twelve steps at two a second keep the busy tenant's connection queued for several seconds.
    const busyDone = startPlan(busy, 12);
    await new Promise((r) => setTimeout(r, 300));
    const quietDone = startPlan(quiet, 1);
    const [busyAt, quietAt] = await Promise.all([busyDone, quietDone]);
    expect(quietAt, 'the quiet tenant\'s step ran while the busy one waited').to.be.below(busyAt);
  });
});
