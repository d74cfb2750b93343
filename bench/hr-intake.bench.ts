/**
 * HR intake: 10,000 events for 2,000 people through the signed webhook, over real HTTP.
 * Reports accepted events/s and event-to-lifecycle-applied p50/p99, against PostgreSQL's single-row insert
 * rate measured in the same run at the same concurrency. Goal (issue 6): acceptance >= 1/4 of the insert
 * rate; no event lost or applied twice (checked). Uses DATABASE_URL when set (recommended).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { sql } from 'kysely';
import { signHrPayload } from '../api/hr-signature';
import { close, listen } from '../api/server';
import { putHrSettings } from '../db/repositories/hr';
import { createTenant } from '../db/repositories/tenants';
import { encryptSecret } from '../workers/secrets';
import { createWorker } from '../workers/worker';
import { startBenchEnvironment } from './environment';
import { startApiAndWorker } from './processes';
import { summarise } from './stats';

const PEOPLE = Number(process.env.BENCH_HR_PEOPLE ?? 2000);
const EVENTS_PER_PERSON = Number(process.env.BENCH_HR_EVENTS_PER_PERSON ?? 5);
const CONCURRENCY = Number(process.env.BENCH_HR_CONCURRENCY ?? 32);

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await work(items[next++] as T);
  }));
}

/** POSTs a JSON body and resolves with the status once the response has been read. */
function post(agent: Agent, port: number, path: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function run(): Promise<void> {
  const env = await startBenchEnvironment('bench-hr');
  const { db, client, connection, namespace, taskQueue, logger } = env;
  const secretKey = Buffer.alloc(32, 3);
  // As deployed: the API and the worker each in its own process, the load generator (the HR system) in this
  // one. On the embedded database (one process only) all three share this process, which measures less.
  const parts = process.env.DATABASE_URL ? await startApiAndWorker(env.address, namespace, process.env.DATABASE_URL, secretKey) : await startInProcess();
  const { port } = parts;
  // The load generator is node:http with keep-alive, as HR systems' clients are: fetch's own overhead in this
  // process would otherwise cap the rate at what it can send, not what Portal can accept.
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  async function startInProcess() {
    const worker = await createWorker({ connection, namespace, taskQueue, db, secretKey, connectorKinds: [] });
    const running = worker.run();
    const api = await listen({ db, temporal: { client, taskQueue }, logger, secretKey }, '127.0.0.1', 0);
    return {
      port: (api.address() as AddressInfo).port,
      stop: async () => {
        await close(api);
        worker.shutdown();
        await running;
      },
    };
  }

  try {
    const tenant = (await createTenant(db, { kind: 'customer', slug: `bench-hr-${randomUUID().slice(0, 8)}`, name: 'Bench HR' }))!;
    const secret = `hrs_${randomUUID()}`;
    await putHrSettings(db, tenant.id, { secretCiphertext: encryptSecret(secretKey, secret), disableThreshold: 1_000_000 });

    // Baseline: single-row inserts into PostgreSQL at the same concurrency.
    await sql`create table if not exists bench_inserts (id bigserial primary key, payload jsonb not null)`.execute(db);
    const inserts = Array.from({ length: 5000 }, (_, i) => i);
    let t = performance.now();
    await pool(inserts, CONCURRENCY, async (i) => {
      await sql`insert into bench_inserts (payload) values (${JSON.stringify({ i })})`.execute(db);
    });
    const insertRate = inserts.length / ((performance.now() - t) / 1000);
    await sql`drop table bench_inserts`.execute(db);

    // Events: a hire and then updates per person, occurredAt increasing per person.
    const start = Date.now();
    const events: Record<string, unknown>[] = [];
    for (let p = 0; p < PEOPLE; p += 1) {
      for (let k = 0; k < EVENTS_PER_PERSON; k += 1) {
        events.push({
          eventId: `bench-${p}-${k}`, type: k === 0 ? 'hire' : 'update', employeeId: `B${p}`, occurredAt: new Date(start + k * 1000).toISOString(),
          displayName: `Bench ${p}`, profile: { department: 'engineering', payGrade: `G${k}` },
        });
      }
    }
    // Interleave people so each person's events arrive spread out, as a real feed does.
    events.sort((a, b) => String(a.occurredAt).localeCompare(String(b.occurredAt)));
    console.log(`sending ${events.length} events for ${PEOPLE} people at concurrency ${CONCURRENCY}...`);
    let failures = 0;
    t = performance.now();
    await pool(events, CONCURRENCY, async (e) => {
      const body = JSON.stringify(e);
      const ts = Math.floor(Date.now() / 1000);
      const status = await post(agent, port, `/v1/tenants/${tenant.id}/hr/events`, body, { 'x-portal-timestamp': String(ts), 'x-portal-signature': signHrPayload(secret, ts, body) });
      if (status !== 202) failures += 1;
    });
    const acceptSeconds = (performance.now() - t) / 1000;
    const acceptRate = events.length / acceptSeconds;

    console.log('waiting for every event to be applied...');
    for (;;) {
      const open = await db.selectFrom('hr_events').select((eb) => eb.fn.countAll<string>().as('n'))
        .where('tenant_id', '=', tenant.id).where('status', 'not in', ['applied', 'superseded', 'failed']).executeTakeFirstOrThrow();
      if (Number(open.n) === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const rows = await db.selectFrom('hr_events').select(['status', 'received_at', 'updated_at']).where('tenant_id', '=', tenant.id).execute();
    const latency = summarise(rows.map((r) => r.updated_at.getTime() - r.received_at.getTime()));
    const joiners = await db.selectFrom('lifecycle_runs').select((eb) => eb.fn.countAll<string>().as('n')).where('tenant_id', '=', tenant.id).where('kind', '=', 'joiner').executeTakeFirstOrThrow();
    const finalGrade = `G${EVENTS_PER_PERSON - 1}`;
    const wrongFinal = await db.selectFrom('tenant_memberships').select((eb) => eb.fn.countAll<string>().as('n'))
      .where('tenant_id', '=', tenant.id).where(sql<boolean>`profile->>'payGrade' is distinct from ${finalGrade}`).executeTakeFirstOrThrow();
    const checks = {
      stored: rows.length, expected: events.length, rejected: failures,
      applied: rows.filter((r) => r.status === 'applied').length, superseded: rows.filter((r) => r.status === 'superseded').length,
      failed: rows.filter((r) => r.status === 'failed').length, joinerRuns: Number(joiners.n), peopleWithWrongFinalProfile: Number(wrongFinal.n),
    };
    const noneLostOrDoubled = checks.stored === events.length && checks.failed === 0 && checks.rejected === 0 && checks.joinerRuns === PEOPLE && checks.peopleWithWrongFinalProfile === 0;
    const ratio = Math.round((acceptRate / insertRate) * 1000) / 1000;
    const result = {
      benchmark: 'hr-intake', people: PEOPLE, events: events.length, concurrency: CONCURRENCY, database: process.env.DATABASE_URL ? 'postgresql' : 'pglite',
      acceptedPerSecond: Math.round(acceptRate), insertsPerSecond: Math.round(insertRate), ratio, goalMet: ratio >= 0.25 && noneLostOrDoubled,
      eventToAppliedMs: latency, checks, noneLostOrDoubled, measuredAt: new Date().toISOString(),
    };
    console.log(JSON.stringify(result, null, 2));
    console.log(`accepted ${result.acceptedPerSecond} events/s vs ${result.insertsPerSecond} single-row inserts/s: ratio ${ratio} (goal >= 0.25); none lost or doubled: ${noneLostOrDoubled}`);
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results', 'hr-intake.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    agent.destroy();
    await parts.stop();
    await env.close();
  }
}
