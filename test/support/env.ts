/**
 * The shared test environment: one Temporal dev server and one database for the whole run, and one
 * workflow bundle. TEMPORAL_ADDRESS uses an existing server instead; DATABASE_URL a real PostgreSQL
 * (CI sets it); otherwise an in-memory embedded PostgreSQL.
 */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { migrateToLatest, openDatabase } from '../../db/connect';
import type { Db } from '../../db/database';
import { ensureTemporalCli } from '../../scripts/temporal-cli';
import { freePort, loadDevServerConfig, type RunningDevServer, startDevServer } from '../../scripts/temporal-dev';
import { createLogger } from '../../workers/logger';
import { installTemporalRuntime, workflowsPath } from '../../workers/worker';

export interface TestEnv {
  db: Db;
  address: string;
  namespace: string;
  client: Client;
  nativeConnection: NativeConnection;
  workflowBundle: WorkflowBundleWithSourceMap;
}

let env: TestEnv | null = null;
let devServer: RunningDevServer | null = null;

export const testLogger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent', 'portal-test');

/** The environment set up by test/setup.ts. */
export function testEnv(): TestEnv {
  if (!env) throw new Error('test environment not set up (is test/setup.ts loaded?)');
  return env;
}

export async function setUpTestEnv(): Promise<void> {
  installTemporalRuntime(testLogger);
  const db = process.env.DATABASE_URL
    ? openDatabase({ kind: 'postgres', url: process.env.DATABASE_URL })
    : openDatabase({ kind: 'embedded', dataDir: null });
  await migrateToLatest(db);

  let address = process.env.TEMPORAL_ADDRESS;
  const devConfig = loadDevServerConfig();
  if (!address) {
    const cli = await ensureTemporalCli();
    // Task-queue fairness on, as a deployment that limits vendor rates per connector instance runs it
    // (PORTAL_CONNECTOR_RATE_LIMIT_SCOPE=instance); the default scope's queue-wide limit works either way.
    const withFairness = { ...devConfig, dynamicConfig: { ...devConfig.dynamicConfig, 'matching.enableFairness': true } };
    devServer = await startDevServer(cli, withFairness, { port: await freePort(), uiPort: null, dbFilename: null });
    address = devServer.address;
  }
  const namespace = process.env.TEMPORAL_NAMESPACE ?? devConfig.server.namespace;
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const workflowBundle = await bundleWorkflowCode({ workflowsPath, logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } });
  env = { db, address, namespace, client: new Client({ connection, namespace }), nativeConnection, workflowBundle };
}

export async function tearDownTestEnv(): Promise<void> {
  if (env) {
    await env.client.connection.close();
    await env.nativeConnection.close();
    await env.db.destroy();
    env = null;
  }
  await devServer?.stop();
  devServer = null;
}
