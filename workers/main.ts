/** `npm run worker`: the governance worker alone, for deployments that scale workers separately. */
import { migrateToLatest } from '../db/connect';
import { TaskQueues } from '../workflows/task-queues';
import { loadConfig } from './config';
import { createLogger } from './logger';
import { requireSecretKey } from './secrets';
import { connectWorker, openConfiguredDatabase, requireSharedDatabase, untilSignal } from './process';
import { loadDevServerConfig } from '../scripts/temporal-dev';
import { createWorker, installTemporalRuntime } from './worker';

async function main() {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'portal-worker');
  requireSharedDatabase(config, 'worker');
  installTemporalRuntime(logger);
  const db = openConfiguredDatabase(config);
  await migrateToLatest(db);
  const dev = loadDevServerConfig().server;
  const address = config.temporal.address ?? `${dev.ip}:${dev.port}`;
  const connection = await connectWorker(config, address);
  const worker = await createWorker({ connection, namespace: config.temporal.namespace, taskQueue: TaskQueues.governance, db, secretKey: requireSecretKey(config.secretKey, 'worker'),
    connectorRateLimitScope: config.connectorRateLimitScope,
  });
  const running = worker.run();
  logger.info({ address, namespace: config.temporal.namespace, taskQueue: TaskQueues.governance }, 'worker running');
  const signal = await Promise.race([untilSignal(), running.then(() => null)]);
  if (signal) {
    logger.info({ signal }, 'shutting down');
    worker.shutdown();
    await running;
  }
  await connection.close();
  await db.destroy();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
