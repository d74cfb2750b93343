/**
 * Approve-to-grant-visible latency with 1,000 open requests in the engine, against a bare Update round trip
 * and PostgreSQL single-row commits measured in the same run.
 * Goal (issue 3): approve-to-grant p99 <= Update round-trip p99 + 2 x commit p99.
 * Uses DATABASE_URL when set (recommended: real PostgreSQL), else embedded PGlite.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { applyPersonSetup } from '../activities/person-setup';
import { createBundle } from '../db/repositories/access-bundles';
import { createCatalogObject } from '../db/repositories/catalog';
import { createTenant } from '../db/repositories/tenants';
import { createApiToken } from '../db/repositories/api-tokens';
import { close, listen } from '../api/server';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../workers/logger';
import { createWorker } from '../workers/worker';
import { TaskQueues } from '../workflows/task-queues';
import { type BenchEnvironment, startBenchEnvironment } from './environment';
import { startApiAndWorker, startPortalProcess } from './processes';
import { createNoopWorker } from './worker-process';
import { accessRequestWorkflowId, type AccessRequestInput } from '../workflows/access-request.types';
import { type Summary, since, summarise } from './stats';
import { echoUpdate, finishUpdate } from './workflows';
import { decideUpdate } from '../workflows/messages';
import { grantApprovedRequest } from '../db/repositories/access-requests';

const OPEN_REQUESTS = Number(process.env.BENCH_OPEN_REQUESTS ?? 1000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);

export async function run(): Promise<void> {
  // Approvals through the API, then as many without it, each on requests of their own.
  if (OPEN_REQUESTS < 2 * SAMPLES) throw new Error(`BENCH_OPEN_REQUESTS (${OPEN_REQUESTS}) must be at least twice BENCH_SAMPLES (${SAMPLES})`);
  const env = await startBenchEnvironment('bench');
  const { db, client } = env;
  // As deployed, the API, Portal's worker and the baseline's worker each run in a process of their own, apart
  // from this load driver; on the embedded database (one process only) they all run in this one.
  const parts = process.env.DATABASE_URL ? await startParts(env, process.env.DATABASE_URL) : await startInProcess(env);
  const { taskQueue } = parts;
  try {
    // Seed: one approver, one bundle with a single 1-of-1 stage, OPEN_REQUESTS people each with an open request.
    const tenant = (await createTenant(db, { kind: 'customer', slug: `bench-${randomUUID().slice(0, 8)}`, name: 'Bench' }))!;
    const setup = (displayName: string) => {
      const personId = randomUUID();
      return applyPersonSetup(db, { tenantId: tenant.id, personId, displayName, email: null, profile: {}, groupIds: [], actor: { kind: 'system', id: 'bench' }, requestId: null }).then(() => personId);
    };
    const approver = await setup('Approver');
    const group = (await createCatalogObject(db, 'groups', { tenantId: tenant.id, name: 'bench', description: null }))!;
    const bundle = (await db.transaction().execute((tx) => createBundle(tx, {
      tenantId: tenant.id, createdBy: 'bench', definition: {
        name: 'bench', description: null, ownerPersonId: approver, items: [{ kind: 'group', id: group.id }], maxDurationSeconds: null, eligibility: [],
        policy: { stages: [{ name: 'approve', approvers: [{ type: 'person', personId: approver }], quorum: { type: 'count', count: 1 }, timeout: { afterSeconds: 86400, action: 'expire' } }], approverOncePerRequest: false },
      },
    })))!;
    console.log(`seeding ${OPEN_REQUESTS} open requests...`);
    const requests: string[] = [];
    for (let i = 0; i < OPEN_REQUESTS; i += 1) {
      const person = await setup(`Person ${i}`);
      const requestId = randomUUID();
      const input: AccessRequestInput = {
        tenantId: tenant.id, requestId, bundleId: bundle.id, bundleVersion: 1, definition: bundle.definition, beneficiaryPersonId: person,
        submittedByPersonId: person, submittedByTokenId: randomUUID(), justification: 'bench', durationSeconds: null,
      };
      await client.workflow.start('accessRequest', { taskQueue, workflowId: accessRequestWorkflowId(requestId), args: [input] });
      requests.push(requestId);
    }
    for (;;) {
      const open = await db.selectFrom('access_requests').select((eb) => eb.fn.countAll<string>().as('n'))
        .where('tenant_id', '=', tenant.id).where('current_stage', '=', 0).executeTakeFirstOrThrow();
      if (Number(open.n) >= OPEN_REQUESTS) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    // Baseline 1: a bare Update round trip on a trivial workflow.
    const echo = await client.workflow.start('benchEcho', { taskQueue: `${taskQueue}-echo`, workflowId: `bench-echo-${randomUUID()}` });
    for (let i = 0; i < 20; i += 1) await echo.executeUpdate(echoUpdate, { args: [i] });
    const updateRtt: number[] = [];
    for (let i = 0; i < SAMPLES; i += 1) {
      const t = performance.now();
      await echo.executeUpdate(echoUpdate, { args: [i] });
      updateRtt.push(since(t));
    }
    await echo.executeUpdate(finishUpdate);

    // Baseline 2: a PostgreSQL single-row commit.
    await sql`create table if not exists bench_commits (id bigserial primary key, at timestamptz not null default now())`.execute(db);
    const commits: number[] = [];
    for (let i = 0; i < SAMPLES; i += 1) {
      const t = performance.now();
      await db.transaction().execute((tx) => sql`insert into bench_commits default values`.execute(tx));
      commits.push(since(t));
    }
    await sql`drop table bench_commits`.execute(db);

    // Approve through the API over HTTP, then read the grant back from PostgreSQL: the latency a client sees.
    const base = `http://127.0.0.1:${parts.port}/v1/tenants/${tenant.id}/requests`;
    const { secret: token } = await createApiToken(db, { tenantId: tenant.id, name: 'approver', permissions: ['portal.requests.decide'], personId: approver });
    const approveToGrant: number[] = [];
    for (const requestId of requests.slice(0, SAMPLES)) {
      const t = performance.now();
      const res = await fetch(`${base}/${requestId}/decisions`, {
        method: 'POST', body: JSON.stringify({ decision: 'approve' }), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
      if (res.status !== 200) throw new Error(`approval failed: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      for (;;) {
        const row = await db.selectFrom('access_requests').select('status').where('id', '=', requestId).executeTakeFirstOrThrow();
        if (row.status === 'granted') break;
      }
      approveToGrant.push(since(t));
    }

    // For the breakdown, the same approval without the API: the decision Update on a request's own workflow
    // sent from this process (no HTTP, no authentication, no lookups), then the grant transaction the API
    // commits on its answer, then the same read. First the approvals above finish their own follow-up (each
    // run's grace-period check, 2 s on), so that work does not land on these samples.
    await quietAfterGrants(client, requests.slice(0, SAMPLES));
    const withoutApi: number[] = [];
    for (const requestId of requests.slice(SAMPLES, 2 * SAMPLES)) {
      const t = performance.now();
      const { grant } = await client.workflow.getHandle(accessRequestWorkflowId(requestId))
        .executeUpdate(decideUpdate, { args: [{ personId: approver, decision: 'approve', comment: null }] });
      if (!grant) throw new Error(`request ${requestId} was not approved by its decision`);
      await db.transaction().execute((tx) => grantApprovedRequest(tx, grant));
      const row = await db.selectFrom('access_requests').select('status').where('id', '=', requestId).executeTakeFirstOrThrow();
      if (row.status !== 'granted') throw new Error(`request ${requestId} is ${row.status} after its grant`);
      withoutApi.push(since(t));
    }

    // For the breakdown: reading one request through the same API (authentication, lookups, HTTP).
    const apiRead: number[] = [];
    for (const requestId of requests.slice(0, SAMPLES)) {
      const t = performance.now();
      const res = await fetch(`${base}/${requestId}`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      apiRead.push(since(t));
    }
    const result = {
      benchmark: 'access-requests', path: 'POST /requests/{id}/decisions over HTTP', openRequests: OPEN_REQUESTS, samples: SAMPLES, database: process.env.DATABASE_URL ? 'postgresql' : 'pglite',
      approveToGrantMs: summarise(approveToGrant), updateRoundTripMs: summarise(updateRtt), commitMs: summarise(commits),
      decisionAndGrantWithoutApiMs: summarise(withoutApi), apiReadMs: summarise(apiRead),
    } as { [k: string]: unknown; approveToGrantMs: Summary; updateRoundTripMs: Summary; commitMs: Summary; decisionAndGrantWithoutApiMs: Summary };
    const budget = result.updateRoundTripMs.p99 + 2 * result.commitMs.p99;
    const ratio = Math.round((result.approveToGrantMs.p99 / budget) * 100) / 100;
    const withoutApiRatio = Math.round((result.decisionAndGrantWithoutApiMs.p99 / budget) * 100) / 100;
    Object.assign(result, {
      budgetP99Ms: Math.round(budget * 100) / 100, ratioP99: ratio, goalMet: ratio <= 1, withoutApiRatioP99: withoutApiRatio, measuredAt: new Date().toISOString(),
    });
    console.log(JSON.stringify(result, null, 2));
    console.log(`approve-to-grant p99 ${result.approveToGrantMs.p99} ms vs Update RTT p99 + 2 commits p99 = ${result.budgetP99Ms} ms: ratio ${ratio} (goal <= 1)`);
    console.log(`the same decision Update + grant transaction + read without the API: p99 ${result.decisionAndGrantWithoutApiMs.p99} ms, ratio ${withoutApiRatio}`);
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results', 'access-requests.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await parts.stop();
    await env.close();
  }
}

/**
 * Waits until the approved requests' runs have done their grace-period check and closed (a grant that is
 * not time-bound ends its run; they close in the order they were approved, the last one last), so that work
 * is off the machine before the next measurement.
 */
async function quietAfterGrants(client: BenchEnvironment['client'], requestIds: string[]): Promise<void> {
  const last = client.workflow.getHandle(accessRequestWorkflowId(requestIds[requestIds.length - 1] as string));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (await last.describe()).status.name === 'RUNNING') await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 500));
}

interface Parts {
  /** Where the API listens. */
  port: number;
  /** Portal's task queue; the baseline's is this with `-echo`. */
  taskQueue: string;
  stop(): Promise<void>;
}

/** `npm run api`, `npm run worker` (on the governance task queue, as deployed) and the baseline's worker. */
async function startParts(env: BenchEnvironment, databaseUrl: string): Promise<Parts> {
  const taskQueue = TaskQueues.governance;
  const [portal, echo] = await Promise.all([
    startApiAndWorker(env.address, env.namespace, databaseUrl, randomBytes(32)),
    startPortalProcess('benchWorker', { BENCH_WORKER: 'noop', TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: env.namespace, BENCH_TASK_QUEUE: `${taskQueue}-echo` }),
  ]);
  return {
    port: portal.port, taskQueue,
    stop: async () => {
      await portal.stop();
      await echo.stop();
    },
  };
}

async function startInProcess(env: BenchEnvironment): Promise<Parts> {
  const { db, client, connection, namespace, taskQueue } = env;
  const worker = await createWorker({ connection, namespace, taskQueue, db, secretKey: randomBytes(32), connectorKinds: [] });
  const echoWorker = await createNoopWorker(connection, namespace, `${taskQueue}-echo`);
  const running = Promise.all([worker.run(), echoWorker.run()]);
  const api = await listen({ db, temporal: { client, taskQueue }, logger: createLogger('error'), secretKey: Buffer.alloc(32) }, '127.0.0.1', 0);
  return {
    port: (api.address() as AddressInfo).port, taskQueue,
    stop: async () => {
      await close(api);
      worker.shutdown();
      echoWorker.shutdown();
      await running;
    },
  };
}
