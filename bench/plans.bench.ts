/**
 * Provisioning-plan throughput (issue: provisioning plans). Plans of three connector steps (create an account
 * in Microsoft 365, Google Workspace and GitHub Enterprise, independent, so they run in parallel) against the
 * vendor fakes with 20 ms latency and 1% 429s carrying `Retry-After: 1`. The offered rate ramps until the
 * backlog grows; each level reports completed plans/s, end-to-end p50/p99 (plan created in PostgreSQL to
 * workflow completed) and activity schedule-to-start p95 (from the workflow histories). The same ramp runs
 * for a no-op workflow with one no-op activity, in the same run, level by level in turn with the plans.
 * Goal: sustained plan throughput >= half the no-op workflow's; schedule-to-start p95 < 50 ms.
 * Connector workers run with the vendor rate limits lifted (the fakes are local; this measures Portal).
 * Uses DATABASE_URL when set (recommended: real PostgreSQL), else embedded PGlite.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Db } from '../db/database';
import { createConnectorInstance } from '../db/repositories/connector-instances';
import { insertPlan, planWorkflowId, planGraph } from '../db/repositories/plans';
import { createTenant } from '../db/repositories/tenants';
import { startGithubEnterpriseFake } from '../test/fakes/github-enterprise';
import { startGoogleWorkspaceFake } from '../test/fakes/google-workspace';
import { startMicrosoft365Fake } from '../test/fakes/microsoft365';
import type { ConformanceFake } from '../test/support/connector-conformance';
import { encryptSecret } from '../workers/secrets';
import { startBenchEnvironment } from './environment';
import { startPortalProcess } from './processes';
import { createNoopWorker, createPlanWorker } from './worker-process';
import { type Summary, since, summarise } from './stats';

const LEVEL_SECONDS = Number(process.env.BENCH_LEVEL_SECONDS ?? 8);
// A ladder of about 1.4x a step, fine enough that the sustained rate is not a coarse step below the truth.
const RATES = (process.env.BENCH_RATES ?? '5,7,10,14,20,28,40,56,80,112').split(',').map(Number);
/** A level sustains its rate when completions keep up with it to this fraction (and see keptUp). */
const KEEP_UP = 0.9;
/** Halvings of the gap between the last level kept up with and the first that fell behind. */
const REFINE = Number(process.env.BENCH_REFINE ?? 2);

interface Level {
  offeredPerSecond: number;
  completedPerSecond: number;
  backlogAtEnd: number;
  endToEnd: Summary;
  scheduleToStart: Summary;
}

/** Offers `rate` starts per second for LEVEL_SECONDS and measures what completes. */
async function level(rate: number, start: () => Promise<WorkflowHandle>, client: Client): Promise<Level> {
  const durations: number[] = [];
  const handles: WorkflowHandle[] = [];
  const pending: Promise<void>[] = [];
  let completedInWindow = 0;
  const begin = performance.now();
  const windowEnd = begin + LEVEL_SECONDS * 1000;
  for (let i = 0; performance.now() < windowEnd; i += 1) {
    const due = begin + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = performance.now();
    pending.push(start().then(async (h) => {
      handles.push(h);
      await h.result();
      durations.push(since(t));
      if (performance.now() <= windowEnd + 1000) completedInWindow += 1;
    }));
  }
  const backlogAtEnd = pending.length - durations.length;
  await Promise.all(pending);
  const s2s: number[] = [];
  for (const h of handles.slice(-50)) {
    const history = await client.workflow.getHandle(h.workflowId).fetchHistory();
    const scheduled = new Map<string, number>();
    for (const e of history.events ?? []) {
      const at = Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
      if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), at);
      if (e.activityTaskStartedEventAttributes) {
        const from = scheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId));
        if (from !== undefined) s2s.push(at - from);
      }
    }
  }
  return {
    offeredPerSecond: rate, completedPerSecond: Math.round((completedInWindow / (LEVEL_SECONDS + 1)) * 100) / 100, backlogAtEnd,
    endToEnd: summarise(durations), scheduleToStart: summarise(s2s),
  };
}

/**
 * A level sustains its rate when completions keep up with the offered rate (to KEEP_UP) and the backlog did
 * not grow: at the window's end at most half a second of arrivals is still running (unloaded, a plan takes
 * ~0.1 s end to end and a no-op workflow ~0.03 s, so more than that outstanding is a queue).
 */
function keptUp(result: Level): boolean {
  const rate = result.offeredPerSecond;
  return result.completedPerSecond >= KEEP_UP * rate * (LEVEL_SECONDS / (LEVEL_SECONDS + 1)) && result.backlogAtEnd <= Math.max(3, rate / 2);
}

/**
 * One ladder: offers RATES in turn until a level does not keep up, then narrows the gap between the last
 * level that did and the first that did not (REFINE halvings), so the sustained rate is not a whole ladder
 * step below the truth. The sustained throughput is the best level that kept up.
 */
class Ramp {
  readonly levels: Level[] = [];
  private sustainedLevel: Level | null = null;
  private failedAt: number | null = null;
  private climbed = 0;
  private refined = 0;

  constructor(readonly name: string, readonly start: () => Promise<WorkflowHandle>) {}

  /** The next rate to offer, or null when this ladder is done. */
  next(): number | null {
    if (this.failedAt === null) return RATES[this.climbed] ?? null;
    if (this.refined >= REFINE) return null;
    const low = this.sustainedLevel?.offeredPerSecond ?? 0;
    const mid = Math.round((low + this.failedAt) / 2);
    return mid > low && mid < this.failedAt ? mid : null;
  }

  record(result: Level): void {
    this.levels.push(result);
    const ok = keptUp(result);
    console.log(`${this.name} offered ${result.offeredPerSecond}/s: completed ${result.completedPerSecond}/s, backlog ${result.backlogAtEnd}, e2e p50 ${result.endToEnd.p50} ms p99 ${result.endToEnd.p99} ms, schedule-to-start p95 ${result.scheduleToStart.p95} ms${ok ? '' : ' (fell behind)'}`);
    if (this.failedAt === null) this.climbed += 1;
    else this.refined += 1;
    if (ok && result.completedPerSecond >= (this.sustainedLevel?.completedPerSecond ?? 0)) this.sustainedLevel = result;
    if (!ok) this.failedAt = Math.min(this.failedAt ?? result.offeredPerSecond, result.offeredPerSecond);
  }

  /** A ladder that never fell behind measured a lower bound, not the sustained rate (ceilingFound false). */
  result() {
    return {
      levels: this.levels, sustainedPerSecond: this.sustainedLevel?.completedPerSecond ?? 0, sustainedLevel: this.sustainedLevel, ceilingFound: this.failedAt !== null,
    };
  }
}

/**
 * Runs the ladders level by level in turn (no-op at a rate, then plans at the same rate, ...), so both meet
 * the machine in the same state: on a shared machine whose speed drifts over minutes, ladders run one after
 * the other compared different machines.
 */
async function interleave(ramps: Ramp[], client: Client): Promise<void> {
  for (let ran = true; ran;) {
    ran = false;
    for (const ramp of ramps) {
      const rate = ramp.next();
      if (rate === null) continue;
      ramp.record(await level(rate, ramp.start, client));
      ran = true;
    }
  }
}

async function connector(db: Db, tenantId: string, secretKey: Buffer, kind: string, fake: ConformanceFake) {
  return (await createConnectorInstance(db, {
    tenantId, kind, name: kind, config: fake.config as Record<string, unknown>, credentialsCiphertext: encryptSecret(secretKey, JSON.stringify(fake.credentials)),
  }))!;
}

export async function run(): Promise<void> {
  const env = await startBenchEnvironment('bench-plans');
  const { db, client, connection, namespace, taskQueue } = env;
  const secretKey = randomBytes(32);
  const fakeOptions = { latencyMs: 20, throttleRate: 0.01, retryAfterSeconds: 1, recordExchanges: false };
  const fakes = { microsoft365: await startMicrosoft365Fake(fakeOptions), google_workspace: await startGoogleWorkspaceFake(fakeOptions), github_enterprise: await startGithubEnterpriseFake(fakeOptions) };
  // As deployed, the workers run in processes of their own, apart from the vendors (here: the fakes and the
  // load driver in this process). On the embedded database (one process only) they run in this one.
  const parts = process.env.DATABASE_URL
    ? await Promise.all([
      startPortalProcess('benchWorker', {
        BENCH_WORKER: 'plans', TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: namespace, BENCH_TASK_QUEUE: taskQueue,
        DATABASE_URL: process.env.DATABASE_URL, PORTAL_SECRET_KEY: secretKey.toString('base64'), BENCH_CONNECTOR_KINDS: Object.keys(fakes).join(','),
      }),
      startPortalProcess('benchWorker', { BENCH_WORKER: 'noop', TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: namespace, BENCH_TASK_QUEUE: `${taskQueue}-noop` }),
    ])
    : await startInProcess();

  async function startInProcess() {
    const worker = await createPlanWorker(connection, namespace, taskQueue, db, secretKey, Object.keys(fakes));
    const noopWorker = await createNoopWorker(connection, namespace, `${taskQueue}-noop`);
    const running = Promise.all([worker.run(), noopWorker.run()]);
    return [{
      stop: async () => {
        worker.shutdown();
        noopWorker.shutdown();
        await running;
      },
    }];
  }
  try {
    const tenant = (await createTenant(db, { kind: 'customer', slug: `bench-${randomUUID().slice(0, 8)}`, name: 'Bench' }))!;
    const instances = await Promise.all(Object.entries(fakes).map(async ([kind, fake]) => ({ kind, fake, instance: await connector(db, tenant.id, secretKey, kind, fake) })));
    let n = 0;
    const startPlan = async () => {
      n += 1;
      const i = n;
      const planId = randomUUID();
      const steps = instances.map(({ kind, fake, instance }) => {
        const account = fake.account(100_000 + i);
        return {
          key: kind, target: { system: 'connector' as const, connectorInstanceId: instance.id, connectorKind: kind }, operation: 'create_account',
          targetObject: account.userName, parameters: { account }, dependsOn: [], callbackDeadlineSeconds: null,
        };
      });
      // As Portal's flows record and start their plans (recordDerivedPlan, executePlan): recorded running,
      // the run given its graph.
      await db.transaction().execute((tx) => insertPlan(tx, {
        id: planId, tenantId: tenant.id, origin: { kind: 'operator', id: 'bench' }, reason: 'bench', createdBy: { kind: 'system', id: 'bench' }, steps,
        initialStatus: { status: 'running', round: 1, succeeded: [], failed: [] },
      }));
      const graph = planGraph(steps);
      return client.workflow.start('provisioningPlan', { taskQueue, workflowId: planWorkflowId(planId), args: [{ tenantId: tenant.id, planId, round: 1, graph }] });
    };
    const startNoop = () => client.workflow.start('benchNoop', { taskQueue: `${taskQueue}-noop`, workflowId: `bench-noop-${randomUUID()}` });

    // Warm up both paths (bundles, connections, token caches).
    for (let i = 0; i < 5; i += 1) await (await startPlan()).result();
    for (let i = 0; i < 5; i += 1) await (await startNoop()).result();

    const noopRamp = new Ramp('no-op workflow', startNoop);
    const planRamp = new Ramp('3-step plan', startPlan);
    await interleave([noopRamp, planRamp], client);
    const noop = noopRamp.result();
    const plans = planRamp.result();
    // Schedule-to-start is judged at the highest offered rate the plans kept up with.
    const best = plans.sustainedLevel ?? plans.levels[0]!;
    const ratio = noop.sustainedPerSecond > 0 ? Math.round((plans.sustainedPerSecond / noop.sustainedPerSecond) * 1000) / 1000 : 0;
    const result = {
      measuredAt: new Date().toISOString(),
      database: process.env.DATABASE_URL ? 'postgresql' : 'pglite',
      fakes: fakeOptions,
      noop, plans,
      throughputRatio: ratio,
      goal: { throughputRatioAtLeast: 0.5, scheduleToStartP95BelowMs: 50 },
      // Without a ceiling on both ladders the ratio compares lower bounds (BENCH_RATES too short): no verdict.
      comparable: noop.ceilingFound && plans.ceilingFound,
      met: { throughput: noop.ceilingFound && plans.ceilingFound && ratio >= 0.5, scheduleToStart: best.scheduleToStart.p95 < 50 },
    };
    if (!result.comparable) console.log('a ladder never fell behind: its sustained rate is a lower bound, so the ratio is no verdict (extend BENCH_RATES)');
    console.log(`sustained: plans ${plans.sustainedPerSecond}/s vs no-op ${noop.sustainedPerSecond}/s (ratio ${ratio}, goal >= 0.5); plan schedule-to-start p95 ${best.scheduleToStart.p95} ms (goal < 50 ms)`);
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results', 'plans.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await Promise.all(parts.map((p) => p.stop()));
    await Promise.all(Object.values(fakes).map((f) => f.close()));
    await env.close();
  }
}
