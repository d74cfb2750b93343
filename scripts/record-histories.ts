/**
 * Records the event histories that the replay tests hold workflow code against. Run it after adding a
 * workflow or a new path through one, and commit the files; never re-record to make a replay test pass
 * (a failing replay means the change needs patched()).
 *   npm run histories:record
 * It runs each scenario on a throwaway dev server and in-memory database, then writes
 * workflows/histories/<workflow>/<scenario>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection } from '@temporalio/worker';
import { migrateToLatest, openDatabase } from '../db/connect';
import { createCatalogObject } from '../db/repositories/catalog';
import { createTenant } from '../db/repositories/tenants';
import { createLogger } from '../workers/logger';
import { createWorker, installTemporalRuntime } from '../workers/worker';
import { personSetupWorkflowId, type PersonSetupInput } from '../workflows/person-setup.types';
import { ensureTemporalCli } from './temporal-cli';
import { freePort, loadDevServerConfig, startDevServer } from './temporal-dev';

export const historiesDir = join(__dirname, '..', 'workflows', 'histories');

async function main() {
  installTemporalRuntime(createLogger('warn'));
  const server = await startDevServer(await ensureTemporalCli(), loadDevServerConfig(), { port: await freePort(), uiPort: null, dbFilename: null });
  const db = openDatabase({ kind: 'embedded', dataDir: null });
  await migrateToLatest(db);
  const client = new Client({ connection: await Connection.connect({ address: server.address }), namespace: server.namespace });
  const connection = await NativeConnection.connect({ address: server.address });
  const taskQueue = `record-${randomUUID()}`;
  const worker = await createWorker({ connection, namespace: server.namespace, taskQueue, db });
  const running = worker.run();

  const tenant = (await createTenant(db, { kind: 'customer', slug: 'recorded', name: 'Recorded' }))!;
  const group = (await createCatalogObject(db, 'groups', { tenantId: tenant.id, name: 'engineering', description: null }))!;
  const base = { tenantId: tenant.id, displayName: 'Recorded Person', email: 'recorded@example.test', profile: { department: 'R&D' }, actor: { kind: 'system' as const, id: 'recorder' }, requestId: null };
  const scenarios: Record<string, PersonSetupInput> = {
    completed: { ...base, personId: randomUUID(), groupIds: [group.id] },
    'failed-missing-group': { ...base, personId: randomUUID(), groupIds: [randomUUID()] },
  };

  for (const [name, input] of Object.entries(scenarios)) {
    const handle = await client.workflow.start('personSetup', { taskQueue, workflowId: personSetupWorkflowId(input.tenantId, input.personId), args: [input] });
    await handle.result().catch(() => undefined);
    const dir = join(historiesDir, 'personSetup');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(JSON.parse(historyToJSON(await handle.fetchHistory())), null, 2)}\n`);
    console.log(`recorded personSetup/${name}`);
  }

  worker.shutdown();
  await running;
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
