/**
 * `npm start`: Portal in one command on a fresh machine. Starts the Temporal dev server (unless
 * TEMPORAL_ADDRESS names a cluster), migrates the database (embedded under .data/ unless DATABASE_URL is
 * set), runs a worker and the API in this process, and prints where everything is. Ctrl-C stops it all.
 */
import type { AddressInfo } from 'node:net';
import { migrateToLatest } from '../db/connect';
import { close, listen } from '../api/server';
import { hrHandOverOptions } from '../api/hr-dispatch';
import { loadConfig } from '../workers/config';
import { loadOrCreateSecretKey } from '../workers/secrets';
import { createLogger } from '../workers/logger';
import { bootstrapOperator, connectClient, connectWorker, openConfiguredDatabase, untilSignal } from '../workers/process';
import { createWorker, installTemporalRuntime } from '../workers/worker';
import { TaskQueues } from '../workflows/task-queues';
import { ensureTemporalCli } from './temporal-cli';
import { loadDevServerConfig, type RunningDevServer, startDevServer } from './temporal-dev';

async function main() {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  installTemporalRuntime(logger);
  const say = (line: string) => process.stdout.write(`${line}\n`);

  let devServer: RunningDevServer | null = null;
  let address = config.temporal.address;
  let uiUrl: string | null = null;
  if (!address) {
    const cli = await ensureTemporalCli(say);
    const devConfig = loadDevServerConfig();
    say(`Starting the Temporal dev server on ${devConfig.server.ip}:${devConfig.server.port}...`);
    devServer = await startDevServer(cli, devConfig, { dataDir: config.dataDir });
    address = devServer.address;
    uiUrl = devServer.uiUrl;
  }

  const db = openConfiguredDatabase(config);
  const applied = await migrateToLatest(db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
  const bootstrap = await bootstrapOperator(db);

  const secretKey = loadOrCreateSecretKey(config.secretKey, config.dataDir);
  const connection = await connectWorker(config, address);
  const worker = await createWorker({ connection, namespace: config.temporal.namespace, taskQueue: TaskQueues.governance, db, secretKey,
    connectorRateLimitScope: config.connectorRateLimitScope,
  });
  const workerRun = worker.run();
  const client = await connectClient(config, address);
  const server = await listen({ db, temporal: { client, taskQueue: TaskQueues.governance }, logger, secretKey, hrHandOver: hrHandOverOptions(config) }, config.host, config.port);
  const apiUrl = `http://${config.host}:${(server.address() as AddressInfo).port}`;

  say('');
  say(`Portal API      ${apiUrl}   (OpenAPI: ${apiUrl}/openapi.json)`);
  say(`Temporal UI     ${uiUrl ?? '(your cluster\'s UI)'}   namespace ${config.temporal.namespace}`);
  say(`Database        ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded, ${config.dataDir}/pglite`}`);
  if (bootstrap) {
    say('');
    say('First run: created the operator tenant and an API token with every permission.');
    say('It is shown once; keep it somewhere safe:');
    say(`  export PORTAL_TOKEN=${bootstrap.secret}`);
    say(`  export PORTAL_OPERATOR_TENANT=${bootstrap.tenantId}`);
  }
  say('');
  say('Ctrl-C stops Portal.');

  const signal = await Promise.race([untilSignal(), workerRun.then(() => null)]);
  logger.info({ signal }, 'shutting down');
  await close(server);
  worker.shutdown();
  await workerRun.catch((err) => logger.error({ err }, 'worker stopped with an error'));
  await client.connection.close();
  await connection.close();
  await db.destroy();
  await devServer?.stop();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
