/**
 * Records the event histories that the replay tests hold workflow code against. Run it after adding a
 * workflow or a new path through one, and commit the files; never re-record to make a replay test pass
 * (a failing replay means the change needs patched()).
 *   npm run histories:record [-- <workflow type> ...]   (only those types; default all)
 * It runs each scenario on a throwaway dev server and in-memory database, then writes
 * workflows/histories/<workflow>/<scenario>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle, WorkflowIdReusePolicy } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection } from '@temporalio/worker';
import { migrateToLatest, openDatabase } from '../db/connect';
import { applyPersonSetup } from '../activities/person-setup';
import { createBundle } from '../db/repositories/access-bundles';
import { createCatalogObject } from '../db/repositories/catalog';
import type { ApprovalStage, BundleDefinition } from '../workflows/access-policy';
import { accessRequestWorkflowId, type AccessRequestInput } from '../workflows/access-request.types';
import { createConnectorInstance } from '../db/repositories/connector-instances';
import { insertPlan, type PlanStepInput, planWorkflowId, planGraph } from '../db/repositories/plans';
import { startGithubEnterpriseFake } from '../test/fakes/github-enterprise';
import { encryptSecret } from '../workers/secrets';
import { accessRequestStateQuery, cancelUpdate, decideUpdate, hrEventSignal, hrEventsSignal, lifecycleStateQuery, planStateQuery, stepCallbackUpdate } from '../workflows/messages';
import { PortalBundleId, PortalPersonId, PortalStatus, PortalTenantId } from '../workflows/search-attributes';
import { createTenant } from '../db/repositories/tenants';
import { personIdForEmployee, putHrSettings } from '../db/repositories/hr';
import { type HrEventPayload, type LifecycleEvent, type LifecycleState, lifecycleWorkflowId } from '../workflows/lifecycle.types';
import { createLogger } from '../workers/logger';
import { createWorker, installTemporalRuntime } from '../workers/worker';
import { personSetupWorkflowId, type PersonSetupInput } from '../workflows/person-setup.types';
import { ensureTemporalCli } from './temporal-cli';
import { freePort, loadDevServerConfig, startDevServer } from './temporal-dev';

export const historiesDir = join(__dirname, '..', 'workflows', 'histories');

async function waitStage(h: WorkflowHandle, stage: number): Promise<void> {
  for (;;) {
    const state = await h.query(accessRequestStateQuery);
    if (state.currentStage === stage) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function decide(h: WorkflowHandle, stage: number, personId: string, decision: 'approve' | 'deny'): Promise<void> {
  await waitStage(h, stage);
  await h.executeUpdate(decideUpdate, { args: [{ personId, decision, comment: null }] });
}

async function main() {
  installTemporalRuntime(createLogger('warn'));
  const server = await startDevServer(await ensureTemporalCli(), loadDevServerConfig(), { port: await freePort(), uiPort: null, dbFilename: null });
  const db = openDatabase({ kind: 'embedded', dataDir: null });
  await migrateToLatest(db);
  const client = new Client({ connection: await Connection.connect({ address: server.address }), namespace: server.namespace });
  const connection = await NativeConnection.connect({ address: server.address });
  const taskQueue = `record-${randomUUID()}`;
  const secretKey = randomBytes(32);
  const worker = await createWorker({ connection, namespace: server.namespace, taskQueue, db, secretKey, connectorKinds: ['github_enterprise'] });
  // A downstream system for the scenarios that provision through a connector.
  const github = await startGithubEnterpriseFake();
  const running = worker.run();

  const tenant = (await createTenant(db, { kind: 'customer', slug: 'recorded', name: 'Recorded' }))!;
  const githubInstance = (await createConnectorInstance(db, {
    tenantId: tenant.id, kind: 'github_enterprise', name: 'github', config: github.config as Record<string, unknown>,
    credentialsCiphertext: encryptSecret(secretKey, JSON.stringify(github.credentials)),
  }))!;
  const group = (await createCatalogObject(db, 'groups', { tenantId: tenant.id, name: 'engineering', description: null }))!;
  const base = { tenantId: tenant.id, displayName: 'Recorded Person', email: 'recorded@example.test', profile: { department: 'R&D' }, actor: { kind: 'system' as const, id: 'recorder' }, requestId: null };
  const scenarios: Record<string, PersonSetupInput> = {
    completed: { ...base, personId: randomUUID(), groupIds: [group.id] },
    'failed-missing-group': { ...base, personId: randomUUID(), groupIds: [randomUUID()] },
  };

  const only = process.argv.slice(2);
  const want = (type: string) => only.length === 0 || only.includes(type);
  const save = async (type: string, name: string, handle: WorkflowHandle, waitForResult = true) => {
    if (!want(type)) return;
    if (waitForResult) await handle.result().catch(() => undefined);
    const dir = join(historiesDir, type);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(JSON.parse(historyToJSON(await handle.fetchHistory())), null, 2)}\n`);
    console.log(`recorded ${type}/${name}`);
  };
  for (const [name, input] of Object.entries(scenarios)) {
    await save('personSetup', name, await client.workflow.start('personSetup', { taskQueue, workflowId: personSetupWorkflowId(input.tenantId, input.personId), args: [input] }));
  }

  // accessRequest: a granted, time-bound two-stage request; a denial; an escalation that expires; a cancellation.
  const person = async (displayName: string, profile: Record<string, string> = {}) => {
    const personId = randomUUID();
    await applyPersonSetup(db, { ...base, personId, displayName, profile, groupIds: [] });
    return personId;
  };
  const manager = await person('Manager');
  const alice = await person('Alice', { manager });
  const [sec1, sec2, boss] = [await person('Sec One'), await person('Sec Two'), await person('Boss')];
  const definition = (stages: ApprovalStage[]): BundleDefinition => ({
    name: 'recorded', description: null, ownerPersonId: boss, items: [{ kind: 'group', id: group.id }], maxDurationSeconds: null, eligibility: [],
    policy: { stages, approverOncePerRequest: false },
  });
  const managerStage: ApprovalStage = { name: 'manager', approvers: [{ type: 'manager' }], quorum: { type: 'count', count: 1 }, timeout: { afterSeconds: 600, action: 'expire' } };
  const securityStage: ApprovalStage = { name: 'security', approvers: [{ type: 'person', personId: sec1 }, { type: 'person', personId: sec2 }], quorum: { type: 'all' }, timeout: { afterSeconds: 600, action: 'expire' } };
  const throughPlan = {
    def: { ...definition([managerStage]), items: [{ kind: 'group' as const, id: group.id }, { kind: 'connector_group' as const, id: githubInstance.id, ref: github.group }] },
    durationSeconds: 2,
    act: async (h: WorkflowHandle) => {
      await decide(h, 0, manager, 'approve');
    },
  };
  const requestScenarios: Record<string, { def: BundleDefinition; durationSeconds: number | null; act: (h: WorkflowHandle) => Promise<void> }> = {
    'granted-time-bound': {
      def: definition([managerStage, securityStage]), durationSeconds: 1,
      act: async (h) => {
        await decide(h, 0, manager, 'approve');
        await decide(h, 1, sec1, 'approve');
        await h.executeUpdate(decideUpdate, { args: [{ personId: sec1, decision: 'approve', comment: null }] }).catch(() => undefined); // refused
        await decide(h, 1, sec2, 'approve');
      },
    },
    denied: { def: definition([managerStage, securityStage]), durationSeconds: null, act: async (h) => { await decide(h, 0, manager, 'approve'); await decide(h, 1, sec2, 'deny'); } },
    'escalated-then-expired': {
      def: definition([{ ...managerStage, timeout: { afterSeconds: 1, action: 'escalate', escalateTo: [{ type: 'person', personId: boss }], escalationAfterSeconds: 1 } }]),
      durationSeconds: null, act: async () => undefined,
    },
    // Patched paths: the grant's plan provisions a downstream team, and the expiry's plan removes it.
    'granted-through-plan-time-bound': throughPlan,
    // The same, recorded since the grant's patch is taken as the run starts (grant-through-plan-at-start).
    'granted-through-plan-at-start': throughPlan,
    // A two-stage grant recorded since decisions wait for a stage's opening to be written (decisions-after-stage-open).
    'granted-decisions-after-opening': {
      def: definition([managerStage, securityStage]), durationSeconds: null,
      act: async (h) => {
        await decide(h, 0, manager, 'approve');
        await decide(h, 1, sec1, 'approve');
        await decide(h, 1, sec2, 'approve');
      },
    },
    cancelled: {
      def: definition([managerStage]), durationSeconds: null,
      act: async (h) => { await waitStage(h, 0); await h.executeUpdate(cancelUpdate, { args: [{ personId: alice, tokenId: randomUUID(), administrative: false, reason: 'not needed' }] }); },
    },
  };
  for (const [name, scenario] of Object.entries(requestScenarios)) {
    const bundle = await db.transaction().execute((tx) => createBundle(tx, { tenantId: tenant.id, definition: { ...scenario.def, name }, createdBy: 'recorder' }));
    const requestId = randomUUID();
    const input: AccessRequestInput = {
      tenantId: tenant.id, requestId, bundleId: bundle!.id, bundleVersion: 1, definition: bundle!.definition, beneficiaryPersonId: alice,
      submittedByPersonId: alice, submittedByTokenId: randomUUID(), justification: 'recorded', durationSeconds: scenario.durationSeconds,
    };
    const handle = await client.workflow.start('accessRequest', {
      taskQueue, workflowId: accessRequestWorkflowId(requestId), args: [input],
      typedSearchAttributes: [{ key: PortalTenantId, value: tenant.id }, { key: PortalBundleId, value: bundle!.id }, { key: PortalStatus, value: 'pending' }],
    });
    await scenario.act(handle);
    await save('accessRequest', name, handle);
  }

  // lifecycle: a future-dated joiner, a mover, a leaver through its retention wait; a rehire cancelling a
  // pending leaver; a run that continues as new. Lifecycles never complete: histories are taken mid-life.
  await putHrSettings(db, tenant.id, { leaverDeleteAfterSeconds: 1 });
  const hrEvent = (employeeId: string, type: HrEventPayload['type'], offsetMs: number, profile: HrEventPayload['profile'] = {}, effectiveInMs: number | null = null): LifecycleEvent => ({
    id: randomUUID(),
    payload: {
      eventId: randomUUID(), type, employeeId, occurredAt: new Date(Date.now() + offsetMs).toISOString(),
      effectiveAt: effectiveInMs === null ? null : new Date(Date.now() + effectiveInMs).toISOString(), displayName: `Employee ${employeeId}`, profile, cancelsEventId: null,
    },
  });
  const lifecycleRun = async (employeeId: string, continueAfterEvents?: number, queue = taskQueue) => {
    const personId = personIdForEmployee(tenant.id, employeeId);
    return client.workflow.start('lifecycle', {
      taskQueue: queue, workflowId: lifecycleWorkflowId(tenant.id, personId),
      args: [{ tenantId: tenant.id, personId, ...(continueAfterEvents ? { continueAfterEvents } : {}) }],
      typedSearchAttributes: [{ key: PortalTenantId, value: tenant.id }, { key: PortalPersonId, value: personId }],
    });
  };
  const until = async (h: WorkflowHandle, pred: (s: LifecycleState) => boolean) => {
    for (;;) {
      const s = await h.query(lifecycleStateQuery);
      if (pred(s)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const full = await lifecycleRun('R1');
  await full.signal(hrEventSignal, hrEvent('R1', 'hire', 0, { department: 'engineering' }, 1000));
  await until(full, (s) => s.personState === 'active' && s.scheduled === null);
  await full.signal(hrEventSignal, hrEvent('R1', 'update', 100, { department: 'sales' }));
  await full.signal(hrEventSignal, hrEvent('R1', 'termination', 200));
  await until(full, (s) => s.personState === 'deleted');
  await save('lifecycle', 'joiner-mover-leaver', full, false);

  const rehire = await lifecycleRun('R2');
  await rehire.signal(hrEventSignal, hrEvent('R2', 'hire', 0, { department: 'engineering' }));
  await rehire.signal(hrEventSignal, hrEvent('R2', 'termination', 100, {}, 60_000));
  await until(rehire, (s) => s.scheduled?.kind === 'leaver');
  await rehire.signal(hrEventSignal, hrEvent('R2', 'rehire', 200));
  await until(rehire, (s) => s.eventsProcessed === 3);
  await save('lifecycle', 'rehire-cancels-leaver', rehire, false);

  const continued = await lifecycleRun('R3', 2);
  for (const [i, type] of (['hire', 'update', 'update'] as const).entries()) await continued.signal(hrEventSignal, hrEvent('R3', type, i * 100, { payGrade: `P${i}` }));
  await until(client.workflow.getHandle(continued.workflowId), (s) => s.eventsProcessed === 3);
  await save('lifecycle', 'continued-as-new', client.workflow.getHandle(continued.workflowId, continued.firstExecutionRunId), false);

  // A batch hand-over (what the dispatcher sends when a person's events gathered): arriving out of order,
  // applied in the HR system's order, a repeated event ignored.
  const batched = await lifecycleRun('R4');
  const [hire, first, second] = [hrEvent('R4', 'hire', 0, { department: 'engineering' }), hrEvent('R4', 'update', 100, { payGrade: 'P1' }), hrEvent('R4', 'update', 200, { payGrade: 'P2' })];
  await batched.signal(hrEventsSignal, [second!, hire!, first!]);
  await batched.signal(hrEventsSignal, [second!]);
  await until(batched, (s) => s.eventsProcessed === 3);
  await save('lifecycle', 'batched-events', batched, false);

  // Updates queued together for an active person go in one local activity (applyHrUpdates) until one makes a
  // mover: the mover runs for it, and the update after it is applied in a batch of its own.
  const updates = await lifecycleRun('R6');
  await updates.signal(hrEventSignal, hrEvent('R6', 'hire', 0, { department: 'engineering' }));
  await until(updates, (s) => s.personState === 'active' && s.eventsProcessed === 1);
  await updates.signal(hrEventsSignal, [
    hrEvent('R6', 'update', 100, { payGrade: 'P1' }), hrEvent('R6', 'update', 200, { department: 'sales' }), hrEvent('R6', 'update', 300, { payGrade: 'P2' }),
  ]);
  await until(updates, (s) => s.eventsProcessed === 4);
  await save('lifecycle', 'batched-updates-with-mover', updates, false);

  // A fixed-term hire, its end sent ahead too: the leaver is scheduled after the joiner and runs at its date.
  const fixedTerm = await lifecycleRun('R7');
  await fixedTerm.signal(hrEventsSignal, [hrEvent('R7', 'hire', 0, { department: 'engineering' }, 1000), hrEvent('R7', 'termination', 100, {}, 2500)]);
  await until(fixedTerm, (s) => s.personState === 'disabled');
  await save('lifecycle', 'fixed-term-hire', fixedTerm, false);

  // A termination cancelled while its leaver waits to delete: the deletion is off and the joiner restores the person.
  const undone = await lifecycleRun('R8');
  await undone.signal(hrEventSignal, hrEvent('R8', 'hire', 0, { department: 'engineering' }));
  await until(undone, (s) => s.personState === 'active' && s.eventsProcessed === 1);
  const ending = hrEvent('R8', 'termination', 100);
  await undone.signal(hrEventsSignal, [ending, { id: randomUUID(), payload: { ...hrEvent('R8', 'cancellation', 200).payload, cancelsEventId: ending.payload.eventId } }]);
  await until(undone, (s) => s.eventsProcessed === 3);
  await save('lifecycle', 'termination-cancelled-in-retention', undone, false);

  // Patch lifecycle-dated-updates: a transfer dated ahead waits for its date and runs the mover scheduled for
  // it; a dated change of no mover attribute applies at its date; a dated transfer called off by a cancellation.
  const dated = await lifecycleRun('R9');
  await dated.signal(hrEventSignal, hrEvent('R9', 'hire', 0, { department: 'engineering' }));
  await until(dated, (s) => s.personState === 'active' && s.eventsProcessed === 1);
  const calledOff = hrEvent('R9', 'update', 150, { department: 'support' }, 60_000);
  await dated.signal(hrEventsSignal, [
    hrEvent('R9', 'update', 100, { department: 'sales' }, 1500), calledOff, hrEvent('R9', 'update', 200, { payGrade: 'P4' }, 1000),
    { id: randomUUID(), payload: { ...hrEvent('R9', 'cancellation', 300).payload, cancelsEventId: calledOff.payload.eventId } },
  ]);
  await until(dated, (s) => s.eventsProcessed === 5 && (s.datedUpdates ?? []).length === 0);
  await save('lifecycle', 'dated-updates', dated, false);

  // Patch lifecycle-cancellations-before-runs: a future hire's cancellation reaches the run while no worker
  // polls its queue, and the hire's date passes: the next workflow task holds both, and the joiner is cancelled
  // instead of running first.
  const outageQueue = `record-outage-${randomUUID()}`;
  const outageWorker = async () => {
    const w = await createWorker({ connection, namespace: server.namespace, taskQueue: outageQueue, db, secretKey, connectorKinds: [] });
    return { w, running: w.run() };
  };
  const beforeOutage = await outageWorker();
  const outage = await lifecycleRun('R10', undefined, outageQueue);
  const startsSoon = hrEvent('R10', 'hire', 0, { department: 'engineering' }, 2000);
  await outage.signal(hrEventSignal, startsSoon);
  await until(outage, (s) => s.scheduled?.kind === 'joiner');
  beforeOutage.w.shutdown();
  await beforeOutage.running;
  const calledOffHire = hrEvent('R10', 'cancellation', 100);
  await outage.signal(hrEventsSignal, [{ ...calledOffHire, payload: { ...calledOffHire.payload, cancelsEventId: startsSoon.payload.eventId } }]);
  await new Promise((r) => setTimeout(r, 3000));
  const afterOutage = await outageWorker();
  await until(outage, (s) => s.eventsProcessed === 2 && s.scheduled === null);
  await save('lifecycle', 'cancellation-before-due-joiner', outage, false);
  afterOutage.w.shutdown();
  await afterOutage.running;

  // Patch lifecycle-late-events: an update before its hire, re-applied once the hire arrives; a termination
  // arriving after a later update, still running the leaver; a hire during the retention wait, cancelling the
  // deletion; a corrected start date, then a cancellation naming the original hire.
  await putHrSettings(db, tenant.id, { leaverDeleteAfterSeconds: 600 });
  const late = await lifecycleRun('R5');
  // Times from one base: the events are built seconds apart, and their order is the point.
  const lateBase = Date.now();
  const lateEvent = (type: HrEventPayload['type'], atMs: number, profile: HrEventPayload['profile'] = {}, effectiveInMs: number | null = null) =>
    hrEvent('R5', type, lateBase + atMs - Date.now(), profile, effectiveInMs);
  await late.signal(hrEventsSignal, [lateEvent('update', 200, { payGrade: 'P1' })]);
  await until(late, (s) => s.awaitingHire?.length === 1);
  await late.signal(hrEventsSignal, [lateEvent('hire', 0, { department: 'engineering' })]);
  await until(late, (s) => s.personState === 'active' && s.awaitingHire?.length === 0);
  await late.signal(hrEventsSignal, [lateEvent('update', 400, { payGrade: 'P2' })]);
  await until(late, (s) => s.eventsProcessed === 3);
  await late.signal(hrEventsSignal, [lateEvent('termination', 300)]);
  await until(late, (s) => s.resume !== null);
  const comeback = lateEvent('hire', 500, {}, 60_000);
  await late.signal(hrEventsSignal, [comeback]);
  await until(late, (s) => s.resume === null && s.scheduled?.kind === 'joiner');
  await late.signal(hrEventsSignal, [lateEvent('hire', 600, {}, 90_000)]);
  await until(late, (s) => s.scheduled?.eventIds?.length === 2);
  const cancellation = lateEvent('cancellation', 700);
  await late.signal(hrEventsSignal, [{ ...cancellation, payload: { ...cancellation.payload, cancelsEventId: comeback.payload.eventId } }]);
  await until(late, (s) => s.eventsProcessed === 7 && s.scheduled === null);
  await save('lifecycle', 'late-events', late, false);

  // provisioningPlan: Portal-native steps; a callback completed; a callback never coming (unverifiable) with a
  // dependent step blocked, then an operator's retry round completing it.
  if (want('provisioningPlan')) {
    const subject = await person('Plan Subject');
    const role = (await createCatalogObject(db, 'roles', { tenantId: tenant.id, name: 'recorded-role', description: null }))!;
    const native = (key: string) => [
      { key: `${key}-join`, target: { system: 'portal' as const }, operation: 'add_to_group', targetObject: `group:${group.id}`, parameters: { personId: subject }, dependsOn: [], callbackDeadlineSeconds: null },
      { key: `${key}-role`, target: { system: 'portal' as const }, operation: 'assign', targetObject: `role:${role.id}`, parameters: { personId: subject }, dependsOn: [`${key}-join`], callbackDeadlineSeconds: null },
    ];
    const manual = (key: string, deadline: number) => ({
      key, target: { system: 'portal' as const }, operation: 'manual_task', targetObject: 'ticket:laptop', parameters: { instructions: 'Ship a laptop' }, dependsOn: [], callbackDeadlineSeconds: deadline,
    });
    /** `given`: recorded running and started with its graph, as Portal's flows start their plans. */
    const startPlan = async (steps: PlanStepInput[], round = 1, planId = randomUUID(), given = false) => {
      if (round === 1) {
        await db.transaction().execute((tx) => insertPlan(tx, {
          id: planId, tenantId: tenant.id, origin: { kind: 'operator', id: 'recorder' }, reason: 'recorded', createdBy: { kind: 'system', id: 'recorder' }, steps,
          ...(given ? { initialStatus: { status: 'running' as const, round: 1, succeeded: [], failed: [] } } : {}),
        }));
      }
      const graph = given ? { graph: planGraph(steps) } : {};
      const handle = await client.workflow.start('provisioningPlan', {
        taskQueue, workflowId: planWorkflowId(planId), args: [{ tenantId: tenant.id, planId, round, ...graph }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        typedSearchAttributes: [{ key: PortalTenantId, value: tenant.id }, { key: PortalStatus, value: 'running' }],
      });
      return { planId, handle };
    };
    const tokenOf = async (planId: string, stepKey: string, round: number) => {
      for (;;) {
        const row = await db.selectFrom('provisioning_callback_tokens').select('id').where('plan_id', '=', planId).where('step_key', '=', stepKey).where('round', '=', round).executeTakeFirst();
        if (row) return row.id;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const awaiting = async (h: WorkflowHandle, stepKey: string) => {
      for (;;) {
        if ((await h.query(planStateQuery)).steps[stepKey]?.status === 'awaiting_callback') return;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await save('provisioningPlan', 'native-completed', (await startPlan(native('a'))).handle);

    const withCallback = await startPlan([...native('b'), manual('b-laptop', 600)]);
    const tokenId = await tokenOf(withCallback.planId, 'b-laptop', 1);
    await awaiting(withCallback.handle, 'b-laptop');
    await withCallback.handle.executeUpdate(stepCallbackUpdate, { args: [{ stepKey: 'b-laptop', tokenId: randomUUID(), result: 'completed', detail: {} }] }).catch(() => undefined); // refused
    await withCallback.handle.executeUpdate(stepCallbackUpdate, { args: [{ stepKey: 'b-laptop', tokenId, result: 'completed', detail: { ticket: 'INC-1' } }] });
    await save('provisioningPlan', 'callback-completed', withCallback.handle);

    // Four tickets waiting take no parallelism slot: the native step runs while they wait.
    const tickets = ['f-1', 'f-2', 'f-3', 'f-4'];
    const waitingFree = await startPlan([...tickets.map((k) => manual(k, 600)), native('f')[0]!]);
    for (const k of tickets) {
      const id = await tokenOf(waitingFree.planId, k, 1);
      await awaiting(waitingFree.handle, k);
      await waitingFree.handle.executeUpdate(stepCallbackUpdate, { args: [{ stepKey: k, tokenId: id, result: 'completed', detail: {} }] });
    }
    await save('provisioningPlan', 'callbacks-free-their-slots', waitingFree.handle);

    const late = await startPlan([manual('c-laptop', 1), { ...native('c')[0]!, dependsOn: ['c-laptop'] }]);
    await save('provisioningPlan', 'unverifiable-then-blocked', late.handle);
    const retry = await startPlan([], 2, late.planId);
    const retryToken = await tokenOf(late.planId, 'c-laptop', 2);
    await awaiting(retry.handle, 'c-laptop');
    await retry.handle.executeUpdate(stepCallbackUpdate, { args: [{ stepKey: 'c-laptop', tokenId: retryToken, result: 'completed', detail: {} }] });
    await save('provisioningPlan', 'retry-round-completed', retry.handle);

    const account = github.account(1);
    const target = { system: 'connector' as const, connectorInstanceId: githubInstance.id, connectorKind: 'github_enterprise' };
    github.vendor.throttleNext(1, 1);
    const downstream = await startPlan([
      { key: 'account', target, operation: 'create_account', targetObject: account.userName, parameters: { account }, dependsOn: [], callbackDeadlineSeconds: null },
      { key: 'team', target, operation: 'add_to_group', targetObject: account.userName, parameters: { userName: account.userName, group: github.group }, dependsOn: ['account'], callbackDeadlineSeconds: null },
      { key: 'missing-team', target, operation: 'add_to_group', targetObject: account.userName, parameters: { userName: account.userName, group: `${github.group}-missing` }, dependsOn: ['account'], callbackDeadlineSeconds: null },
    ]);
    await save('provisioningPlan', 'connector-throttled-then-partial-failure', downstream.handle);

    // Started as a grant's or a lifecycle's plan is: recorded running, the run given its graph; the last step
    // to succeed records the plan completed, so the run ends without a closing local activity.
    const givenAccount = github.account(2);
    const given = await startPlan([
      ...native('g'),
      { key: 'g-account', target, operation: 'create_account', targetObject: givenAccount.userName, parameters: { account: givenAccount }, dependsOn: [], callbackDeadlineSeconds: null },
    ], 1, randomUUID(), true);
    await save('provisioningPlan', 'given-graph-completed-by-last-step', given.handle);
  }

  worker.shutdown();
  await running;
  await github.close();
  await connection.close();
  await client.connection.close();
  await db.destroy();
  await server.stop();
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
