/** What every benchmark stands on: its own dev server, the database, a client and a worker connection. */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { migrateToLatest, openDatabase } from '../db/connect';
import type { Db } from '../db/database';
import { ensureTemporalCli } from '../scripts/temporal-cli';
import { freePort, loadDevServerConfig, startDevServer } from '../scripts/temporal-dev';
import { createLogger, type Logger } from '../workers/logger';
import { installTemporalRuntime } from '../workers/worker';

export interface BenchEnvironment {
  db: Db;
  client: Client;
  connection: NativeConnection;
  namespace: string;
  /** The dev server's gRPC address (for workers in child processes). */
  address: string;
  /** A fresh task queue for this benchmark's worker. */
  taskQueue: string;
  logger: Logger;
  /** Closes the connections, the database and the dev server (workers must be shut down first). */
  close(): Promise<void>;
}

/**
 * A dev server on a free port (as temporal-dev.yaml configures it, in memory) and PostgreSQL from
 * DATABASE_URL (recommended: real PostgreSQL), else embedded PGlite, migrated.
 */
export async function startBenchEnvironment(queuePrefix: string): Promise<BenchEnvironment> {
  const logger = createLogger('error');
  installTemporalRuntime(logger);
  const server = await startDevServer(await ensureTemporalCli(), loadDevServerConfig(), { port: await freePort(), uiPort: null, dbFilename: null });
  const db = process.env.DATABASE_URL ? openDatabase({ kind: 'postgres', url: process.env.DATABASE_URL }) : openDatabase({ kind: 'embedded', dataDir: null });
  await migrateToLatest(db);
  const client = new Client({ connection: await Connection.connect({ address: server.address }), namespace: server.namespace });
  const connection = await NativeConnection.connect({ address: server.address });
  return {
    db, client, connection, namespace: server.namespace, address: server.address, taskQueue: `${queuePrefix}-${randomUUID()}`, logger,
    close: async () => {
      await connection.close();
      await client.connection.close();
      await db.destroy();
      await server.stop();
    },
  };
}
