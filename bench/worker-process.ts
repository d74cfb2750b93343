/**
 * A benchmark's worker in its own process, as a deployment runs workers: the plan worker (Portal's
 * governance worker and connector workers, vendor rate limits lifted since the fakes are local) or the
 * no-op baseline worker. Configured by the environment that bench/processes.ts passes; logs one JSON line
 * `worker running` when polling, and stops on SIGTERM.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { openDatabase } from '../db/connect';
import type { Db } from '../db/database';
import { untilSignal } from '../workers/process';
import { createLogger } from '../workers/logger';
import { parseSecretKey } from '../workers/secrets';
import { createWorker, installTemporalRuntime } from '../workers/worker';

/** The baseline: a worker for the no-op workflow and its one no-op activity. */
export function createNoopWorker(connection: NativeConnection, namespace: string, taskQueue: string): Promise<Worker> {
  return Worker.create({ connection, namespace, taskQueue, workflowsPath: require.resolve('./workflows'), activities: { benchNoopActivity: async () => undefined } });
}

/** Portal's worker for plans, with the vendors' rate limits lifted: the fakes are local, this measures Portal. */
export function createPlanWorker(connection: NativeConnection, namespace: string, taskQueue: string, db: Db, secretKey: Buffer, connectorKinds: string[]) {
  return createWorker({ connection, namespace, taskQueue, db, secretKey, connectorKinds, connectorRateLimitPerSecond: 100_000 });
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function main() {
  const logger = createLogger('info', 'bench-worker');
  installTemporalRuntime(logger);
  const connection = await NativeConnection.connect({ address: required('TEMPORAL_ADDRESS') });
  const namespace = required('TEMPORAL_NAMESPACE');
  const taskQueue = required('BENCH_TASK_QUEUE');
  const db = process.env.BENCH_WORKER === 'plans' ? openDatabase({ kind: 'postgres', url: required('DATABASE_URL') }) : null;
  const worker = db
    ? await createPlanWorker(connection, namespace, taskQueue, db, parseSecretKey(required('PORTAL_SECRET_KEY')), required('BENCH_CONNECTOR_KINDS').split(','))
    : await createNoopWorker(connection, namespace, taskQueue);
  const running = worker.run();
  logger.info({ taskQueue }, 'worker running');
  await Promise.race([untilSignal(), running]);
  worker.shutdown();
  await running;
  await connection.close();
  await db?.destroy();
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  });
}
