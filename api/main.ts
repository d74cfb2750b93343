/** `npm run api`: the API alone, for deployments that run many stateless replicas. */
import type { AddressInfo } from 'node:net';
import { migrateToLatest } from '../db/connect';
import { loadDevServerConfig } from '../scripts/temporal-dev';
import { loadConfig } from '../workers/config';
import { requireSecretKey } from '../workers/secrets';
import { createLogger } from '../workers/logger';
import { connectClient, openConfiguredDatabase, requireSharedDatabase, untilSignal } from '../workers/process';
import { TaskQueues } from '../workflows/task-queues';
import { close, listen } from './server';
import { hrHandOverOptions } from './hr-dispatch';

async function main() {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'portal-api');
  requireSharedDatabase(config, 'API');
  const db = openConfiguredDatabase(config);
  await migrateToLatest(db);
  const dev = loadDevServerConfig().server;
  const client = await connectClient(config, config.temporal.address ?? `${dev.ip}:${dev.port}`);
  const server = await listen({ db, temporal: { client, taskQueue: TaskQueues.governance }, logger, secretKey: requireSecretKey(config.secretKey, 'API'), hrHandOver: hrHandOverOptions(config) }, config.host, config.port);
  logger.info({ url: `http://${config.host}:${(server.address() as AddressInfo).port}` }, 'api listening');
  const signal = await untilSignal();
  logger.info({ signal }, 'shutting down');
  await close(server);
  await client.connection.close();
  await db.destroy();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
