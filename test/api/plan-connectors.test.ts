import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'chai';
import { signHrPayload } from '../../api/hr-signature';
import { personIdForEmployee } from '../../db/repositories/hr';
import { testEnv } from '../support/env';
import { ApiClient, eventually, type RunningApi, type RunningWorker, startApi, startWorker, testSecretKey, uniqueTaskQueue } from '../support/fixtures';
import { createAccessOrg, stageOpen, submit, waitStatus, type AccessOrg } from '../support/access-org';
import type { ConformanceFake } from '../support/connector-conformance';
import { startGoogleWorkspaceFake } from '../fakes/google-workspace';
import { startMicrosoft365Fake } from '../fakes/microsoft365';
import { startGithubEnterpriseFake } from '../fakes/github-enterprise';
import { startAtlassianCloudFake, startAwsIdentityCenterFake, startSalesforceFake, startSlackEnterpriseFake } from '../fakes/scim-vendors';
import { startServicenowFake } from '../fakes/servicenow';
import { startZohoMailFake } from '../fakes/zoho-mail';
import { connectorPlugins } from '../../connectors/registry';
import { planSettles } from '../support/plans';

const KINDS = ['microsoft365', 'google_workspace', 'github_enterprise'];

/** Configures a connector instance for a fake through the API and returns its id. */
async function configure(client: ApiClient, tenantPath: string, kind: string, fake: ConformanceFake, name: string, credentials = fake.credentials): Promise<string> {
  const res = await client.post(`${tenantPath}/connectors`, { kind, name, config: fake.config, credentials });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  expect(res.body.credentialsSet).to.equal(true);
  expect(JSON.stringify(res.body)).not.to.include(JSON.stringify(credentials).slice(1, -1).slice(0, 20));
  return res.body.id;
}

type Evidence = { stepKey: string; outcome: string; round: number; attempt: number; calls: { method: string; path: string; status: number | null }[] };

describe('provisioning plans on downstream systems', () => {
  let worker: RunningWorker;
  let api: RunningApi;
  let org: AccessOrg;
  let m365: ConformanceFake;
  let google: ConformanceFake;
  let github: ConformanceFake;

  before(async () => {
    worker = await startWorker(undefined, { connectorKinds: KINDS });
    api = await startApi(worker.taskQueue);
    org = await createAccessOrg(api.baseUrl);
    [m365, google, github] = await Promise.all([startMicrosoft365Fake(), startGoogleWorkspaceFake(), startGithubEnterpriseFake()]);
  });
  after(async () => {
    await Promise.all([m365?.close(), google?.close(), github?.close()]);
    await api?.stop();
    await worker?.stop();
  });

  const settle = (planId: string, statuses?: string[]) => planSettles(org.admin, org.tenant.id, planId, statuses);

  describe('when an approved request grants Portal-native targets and two downstream systems', () => {
    it('should provision through one plan: the fakes end in the right state and evidence lists every attempt', async () => {
      const googleAccount = google.account(900);
      // One person, one email: both vendors key the account on it.
      await testEnv().db.updateTable('people').set({ email: googleAccount.userName }).where('id', '=', org.ids.alice).execute();
      const m365Id = await configure(org.admin, org.t, 'microsoft365', m365, 'entra');
      const googleId = await configure(org.admin, org.t, 'google_workspace', google, 'workspace');
      const bundle = await org.admin.post(`${org.t}/bundles`, {
        name: 'downstream', ownerPersonId: org.ids.boss, eligibility: [],
        items: [
          { kind: 'group', id: org.groups.engineering },
          { kind: 'connector_group', id: m365Id, ref: m365.group },
          { kind: 'connector_group', id: googleId, ref: google.group },
        ],
        policy: { stages: [{ name: 'manager', approvers: [{ type: 'manager' }], quorum: { type: 'count', count: 1 }, timeout: { afterSeconds: 600, action: 'expire' } }], approverOncePerRequest: false },
      });
      expect(bundle.status, JSON.stringify(bundle.body)).to.equal(201);
      // The first downstream call is throttled once: the retry honours Retry-After and evidence keeps both.
      m365.vendor.throttleNext(1, 1);
      const requestId = await submit(org, org.as.alice, bundle.body.id);
      await stageOpen(org, requestId, 0);
      const decided = await org.as.manager.post(`${org.t}/requests/${requestId}/decisions`, { decision: 'approve' });
      expect(decided.status, JSON.stringify(decided.body)).to.equal(200);
      await waitStatus(org, requestId, 'granted');

      const plans = await org.admin.get(`${org.t}/plans?originKind=access_request&originId=${requestId}`);
      expect(plans.body.items).to.have.length(1);
      const plan = await settle(plans.body.items[0].id);
      expect(plan.body.status, JSON.stringify(plan.body)).to.equal('completed');
      const steps = plan.body.steps as { key: string; target: { system: string; connectorKind?: string }; operation: string }[];
      expect(steps.map((s) => `${s.target.connectorKind ?? 'portal'}:${s.operation}`)).to.have.members([
        'portal:add_to_group', 'microsoft365:create_account', 'microsoft365:add_to_group', 'google_workspace:create_account', 'google_workspace:add_to_group',
      ]);
      const userName = googleAccount.userName;
      expect(m365.state.account(userName)).to.deep.equal({ active: true });
      expect(m365.state.isMember(userName, m365.group)).to.equal(true);
      expect(google.state.account(userName)).to.deep.equal({ active: true });
      expect(google.state.isMember(userName, google.group)).to.equal(true);

      const evidence = plan.body.evidence as Evidence[];
      const m365Create = steps.find((s) => s.target.connectorKind === 'microsoft365' && s.operation === 'create_account')!;
      const attempts = evidence.filter((e) => e.stepKey === m365Create.key);
      expect(attempts.map((e) => `${e.attempt}:${e.outcome}`)).to.deep.equal(['1:failed_retryable', '2:applied']);
      expect(attempts[0]!.calls.some((c) => c.status === 429)).to.equal(true);
      for (const step of steps) expect(evidence.some((e) => e.stepKey === step.key), step.key).to.equal(true);
      // Portal-native access is there too, from the grant transaction.
      expect(evidence.find((e) => e.stepKey === 'portal-1')?.outcome).to.equal('applied');
    });
  });

  describe('when a time-bound request expires while another granted request gives the same downstream group', () => {
    it('should revoke its Portal-native access but leave the vendor membership the other grant still gives', async () => {
      const account = github.account(950);
      await testEnv().db.updateTable('people').set({ email: account.userName }).where('id', '=', org.ids.bob).execute();
      const githubId = await configure(org.admin, org.t, 'github_enterprise', github, `github-shared-${Date.now()}`);
      const policy = { stages: [{ name: 'manager', approvers: [{ type: 'manager' }], quorum: { type: 'count', count: 1 }, timeout: { afterSeconds: 600, action: 'expire' } }], approverOncePerRequest: false };
      const bundle = async (name: string, items: unknown[]) => {
        const res = await org.admin.post(`${org.t}/bundles`, { name: `${name}-${Date.now()}`, ownerPersonId: org.ids.boss, eligibility: [], maxDurationSeconds: 3600, items, policy });
        expect(res.status, JSON.stringify(res.body)).to.equal(201);
        return res.body.id as string;
      };
      const team = { kind: 'connector_group', id: githubId, ref: github.group };
      const lasting = await bundle('team-lasting', [team]);
      const temporary = await bundle('team-temporary', [{ kind: 'group', id: org.groups.engineering }, team]);
      const grant = async (bundleId: string, extra: Record<string, unknown> = {}) => {
        const id = await submit(org, org.as.bob, bundleId, extra);
        await stageOpen(org, id, 0);
        const decided = await org.as.manager.post(`${org.t}/requests/${id}/decisions`, { decision: 'approve' });
        expect(decided.status, JSON.stringify(decided.body)).to.equal(200);
        await waitStatus(org, id, 'granted');
        const plans = await org.admin.get(`${org.t}/plans?originKind=access_request&originId=${id}`);
        await settle(plans.body.items[0].id);
        return id;
      };
      await grant(lasting);
      const temporaryId = await grant(temporary, { durationSeconds: 2 });
      expect(github.state.isMember(account.userName, github.group)).to.equal(true);

      await waitStatus(org, temporaryId, 'revoked', 30_000);
      const plans = await org.admin.get(`${org.t}/plans?originKind=access_request&originId=${temporaryId}`);
      const revocation = plans.body.items.find((p: { reason: string }) => p.reason.startsWith('revocation'));
      const settled = await settle(revocation.id);
      // The Portal-native group goes; the team stays, as the lasting grant gives it.
      expect(settled.body.steps.map((s: { operation: string }) => s.operation)).to.deep.equal(['remove_from_group']);
      expect(settled.body.steps[0].target.system).to.equal('portal');
      expect(github.state.isMember(account.userName, github.group)).to.equal(true);
    });
  });

  describe('when a step fails for good and the operator fixes the cause', () => {
    it('should end completed_with_failures, then a retry succeeds with both attempts in evidence and the plan unchanged', async () => {
      const githubBad = await configure(org.admin, org.t, 'github_enterprise', github, 'github-bad', github.badCredentials);
      const m365Id = (await org.admin.get(`${org.t}/connectors`)).body.items.find((c: { name: string }) => c.name === 'entra').id;
      const account = github.account(901);
      const mAccount = m365.account(901);
      const created = await org.admin.post(`${org.t}/plans`, {
        reason: 'contractor onboarding',
        steps: [
          { key: 'm365', target: { system: 'connector', connectorId: m365Id }, operation: 'create_account', parameters: { account: mAccount } },
          { key: 'github', target: { system: 'connector', connectorId: githubBad }, operation: 'create_account', parameters: { account } },
          { key: 'team', target: { system: 'connector', connectorId: githubBad }, operation: 'add_to_group', parameters: { userName: account.userName, group: github.group }, dependsOn: ['github'] },
        ],
      });
      expect(created.status, JSON.stringify(created.body)).to.equal(202);
      const planId = created.body.id;
      const failed = await settle(planId);
      expect(failed.body.status).to.equal('completed_with_failures');
      expect(failed.body.succeeded).to.deep.equal(['m365']);
      expect(failed.body.failed).to.have.members(['github', 'team']);
      const githubAttempts = (failed.body.evidence as Evidence[]).filter((e) => e.stepKey === 'github');
      expect(githubAttempts.map((e) => e.outcome)).to.deep.equal(['failed_terminal']);
      expect(failed.body.steps.find((s: { key: string }) => s.key === 'team').state).to.equal('pending');

      // The operator replaces the credentials and retries the failed steps.
      const fixed = await org.admin.request('PUT', `${org.t}/connectors/${githubBad}`, { config: github.config, credentials: github.credentials });
      expect(fixed.status, JSON.stringify(fixed.body)).to.equal(200);
      expect((await org.admin.post(`${org.t}/plans/${planId}/retry`)).status).to.equal(202);
      const done = await settle(planId, ['completed']);
      const evidence = done.body.evidence as Evidence[];
      expect(evidence.filter((e) => e.stepKey === 'github').map((e) => `${e.round}:${e.outcome}`)).to.deep.equal(['1:failed_terminal', '2:applied']);
      expect(evidence.filter((e) => e.stepKey === 'm365').map((e) => e.round)).to.deep.equal([1]);
      expect(github.state.isMember(account.userName, github.group)).to.equal(true);
      expect(done.body.contentHash).to.equal(failed.body.contentHash);
      let refused: Error | null = null;
      await testEnv().db.updateTable('provisioning_plan_steps').set({ target_object: 'someone-else' }).where('plan_id', '=', planId).execute().catch((e: Error) => {
        refused = e;
      });
      expect(String(refused)).to.match(/append-only/);
    });
  });

  describe('when HR events drive a joiner and a leaver with downstream birthright access', () => {
    it('should provision the account and team through the joiner plan, disable it in the leaver plan and delete it after the wait', async () => {
      const secret = (await org.admin.post(`${org.t}/hr/secret`)).body.secret as string;
      expect((await org.admin.request('PUT', `${org.t}/hr/settings`, { disableThreshold: 50, leaverDeleteAfterSeconds: 2 })).status).to.equal(200);
      const githubId = await configure(org.admin, org.t, 'github_enterprise', github, 'github-birthright');
      const bundle = await org.admin.post(`${org.t}/bundles`, {
        name: 'engineering-birthright', ownerPersonId: org.ids.boss, eligibility: [],
        items: [{ kind: 'group', id: org.groups.engineering }, { kind: 'connector_group', id: githubId, ref: github.group }],
        policy: { stages: [{ name: 'x', approvers: [{ type: 'bundle_owner' }], quorum: { type: 'all' }, timeout: { afterSeconds: 60, action: 'expire' } }] },
      });
      expect(bundle.status, JSON.stringify(bundle.body)).to.equal(201);
      const joiner = (await org.admin.get(`${org.t}/lifecycle/templates/joiner`)).body.definition;
      await org.admin.request('PUT', `${org.t}/lifecycle/templates/joiner`, {
        ...joiner, birthright: [{ bundleId: bundle.body.id, when: [{ type: 'attribute', attribute: 'department', operator: 'equals', value: 'platform' }] }],
      });
      const send = async (event: Record<string, unknown>) => {
        const body = JSON.stringify(event);
        const ts = Math.floor(Date.now() / 1000);
        const res = await org.admin.as(null).request('POST', `${org.t}/hr/events`, body, {
          'content-type': 'application/json', 'x-portal-timestamp': String(ts), 'x-portal-signature': signHrPayload(secret, ts, body),
        });
        expect(res.status, JSON.stringify(res.body)).to.equal(202);
      };
      const email = 'dana.platform@acme.test';
      const at = (ms: number) => new Date(Date.now() + ms).toISOString();
      await send({ eventId: randomUUID(), type: 'hire', employeeId: 'P1', occurredAt: at(0), displayName: 'Dana Platform', profile: { department: 'platform', workEmail: email } });
      const personId = personIdForEmployee(org.tenant.id, 'P1');
      const lifecycle = async () => (await org.admin.get(`${org.t}/people/${personId}/lifecycle`)).body;
      const runPlan = async (kind: string) => eventually(async () => {
        const run = ((await lifecycle()).runs ?? []).find((r: { kind: string; plans: unknown[] }) => r.kind === kind && r.plans.length > 0);
        return run ? run.plans[0].id as string : undefined;
      }, 30_000, `${kind} plan`);
      const joinerPlan = await settle(await runPlan('joiner'), ['completed']);
      expect(joinerPlan.body.steps.map((s: { operation: string }) => s.operation)).to.deep.equal(['add_to_group', 'create_account', 'add_to_group']);
      expect(github.state.account(email)).to.deep.equal({ active: true });
      expect(github.state.isMember(email, github.group)).to.equal(true);

      await send({ eventId: randomUUID(), type: 'termination', employeeId: 'P1', occurredAt: at(10), profile: { employmentStatus: 'terminated' } });
      const leaverPlan = await settle(await runPlan('leaver'), ['completed']);
      expect(leaverPlan.body.steps.map((s: { operation: string; targetObject: string }) => `${s.operation} ${s.targetObject}`)).to.deep.equal([`disable_account ${email}`]);
      expect(github.state.account(email)).to.deep.equal({ active: false });
      await eventually(async () => (github.state.account(email) === null ? true : undefined), 30_000, 'downstream deletion after the wait');
      const leaver = ((await lifecycle()).runs as { kind: string; plans: { reason: string; status: string }[] }[]).find((r) => r.kind === 'leaver')!;
      expect(leaver.plans.map((p) => p.reason)).to.deep.equal(['leaver: disable downstream accounts', 'leaver: delete downstream accounts']);
    });
  });

  describe('when one plan touches every connector Portal ships and Portal-native targets', () => {
    it('should complete, with evidence for every step', async () => {
      const starters: Record<string, () => Promise<ConformanceFake>> = {
        microsoft365: () => startMicrosoft365Fake(), google_workspace: () => startGoogleWorkspaceFake(), github_enterprise: () => startGithubEnterpriseFake(),
        servicenow: () => startServicenowFake(), salesforce: () => startSalesforceFake(), atlassian_cloud: () => startAtlassianCloudFake(),
        slack_enterprise: () => startSlackEnterpriseFake(), aws_identity_center: () => startAwsIdentityCenterFake(), zoho_mail: () => startZohoMailFake(),
      };
      expect(Object.keys(starters)).to.have.members(Object.keys(connectorPlugins));
      const fakes = Object.fromEntries(await Promise.all(Object.entries(starters).map(async ([kind, start]) => [kind, await start()] as const)));
      const everyKindWorker = await startWorker(undefined, { connectorKinds: Object.keys(starters) });
      const everyKindApi = await startApi(everyKindWorker.taskQueue);
      try {
        const client = new ApiClient(everyKindApi.baseUrl, org.admin.token);
        const steps: Record<string, unknown>[] = [
          { key: 'portal-group', target: { system: 'portal' }, operation: 'add_to_group', targetObject: `group:${org.groups.engineering}`, parameters: { personId: org.ids.bob } },
        ];
        for (const [kind, fake] of Object.entries(fakes)) {
          const id = await configure(client, org.t, kind, fake, `all-${kind}`);
          const account = fake.account(777);
          steps.push(
            { key: `${kind}-account`, target: { system: 'connector', connectorId: id }, operation: 'create_account', parameters: { account } },
            { key: `${kind}-group`, target: { system: 'connector', connectorId: id }, operation: 'add_to_group', parameters: { userName: account.userName, group: fake.group }, dependsOn: [`${kind}-account`] },
          );
        }
        const created = await client.post(`${org.t}/plans`, { reason: 'every system', steps });
        expect(created.status, JSON.stringify(created.body)).to.equal(202);
        const done = await planSettles(client, org.tenant.id, created.body.id, ['completed', 'completed_with_failures'], 60_000);
        expect(done.body.status, JSON.stringify(done.body.failed)).to.equal('completed');
        expect(done.body.succeeded).to.have.length(steps.length);
        const evidence = done.body.evidence as Evidence[];
        for (const step of steps) expect(evidence.some((e) => e.stepKey === step.key && e.outcome === 'applied'), String(step.key)).to.equal(true);
        for (const [kind, fake] of Object.entries(fakes)) {
          const account = fake.account(777);
          expect(fake.state.account(account.userName), kind).to.deep.equal({ active: true });
          expect(fake.state.isMember(account.userName, fake.group), kind).to.equal(true);
        }
      } finally {
        await everyKindApi.stop();
        await everyKindWorker.stop();
        await Promise.all(Object.values(fakes).map((f) => f.close()));
      }
    });
  });

  describe('when the worker dies mid-plan', () => {
    it('should have another worker complete the plan, each fake seeing each side effect once', async function () {
      if (!process.env.DATABASE_URL) {
        console.log('      (skipped: killing a worker process needs a PostgreSQL shared between processes; set DATABASE_URL, as CI does)');
        this.skip();
      }
      this.timeout(120_000);
      const taskQueue = uniqueTaskQueue('dying-plan');
      const spawnWorker = () => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'support', 'worker-process.ts')], {
          env: {
            ...process.env, TEMPORAL_ADDRESS: testEnv().address, TEMPORAL_NAMESPACE: testEnv().namespace, TASK_QUEUE: taskQueue,
            PORTAL_SECRET_KEY: testSecretKey.toString('base64'), CONNECTOR_KINDS: KINDS.join(','),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const output: string[] = [];
        child.stdout?.on('data', (b: Buffer) => output.push(b.toString()));
        return { child, ready: () => eventually(async () => (output.join('').includes('ready') ? true : undefined), 60_000, 'worker to start') };
      };
      const slow = await Promise.all([startMicrosoft365Fake({ latencyMs: 400 }), startGoogleWorkspaceFake({ latencyMs: 400 })]);
      const planApi = await startApi(taskQueue);
      const a = spawnWorker();
      let b: ReturnType<typeof spawnWorker> | null = null;
      try {
        await a.ready();
        const [slowM365, slowGoogle] = slow;
        const m365Id = await configure(org.admin, org.t, 'microsoft365', slowM365, 'slow-entra');
        const googleId = await configure(org.admin, org.t, 'google_workspace', slowGoogle, 'slow-workspace');
        const steps = [];
        for (let i = 0; i < 4; i += 1) {
          const ma = slowM365.account(950 + i);
          const ga = slowGoogle.account(950 + i);
          steps.push(
            { key: `m${i}`, target: { system: 'connector', connectorId: m365Id }, operation: 'create_account', parameters: { account: ma } },
            { key: `mg${i}`, target: { system: 'connector', connectorId: m365Id }, operation: 'add_to_group', parameters: { userName: ma.userName, group: slowM365.group }, dependsOn: [`m${i}`] },
            { key: `g${i}`, target: { system: 'connector', connectorId: googleId }, operation: 'create_account', parameters: { account: ga } },
          );
        }
        const created = await new ApiClient(planApi.baseUrl, org.admin.token).post(`${org.t}/plans`, { reason: 'bulk', steps });
        expect(created.status, JSON.stringify(created.body)).to.equal(202);
        const planId = created.body.id;
        // Kill worker A once some, not all, steps have been applied.
        await eventually(async () => {
          const plan = await org.admin.get(`${org.t}/plans/${planId}`);
          return (plan.body.evidence as Evidence[]).some((e) => e.outcome === 'applied') ? true : undefined;
        }, 30_000, 'a first applied step');
        a.child.kill('SIGKILL');
        b = spawnWorker();
        await b.ready();
        const done = await settle(planId, ['completed']);
        expect(done.body.succeeded).to.have.length(12);
        for (const fake of slow) {
          const effects = fake.vendor.sideEffects();
          expect(Object.keys(effects).length, JSON.stringify(effects)).to.be.greaterThan(0);
          for (const [key, count] of Object.entries(effects)) expect(count, key).to.equal(1);
        }
      } finally {
        a.child.kill('SIGKILL');
        b?.child.kill('SIGKILL');
        await planApi.stop();
        await Promise.all(slow.map((f) => f.close()));
      }
    });
  });
});
