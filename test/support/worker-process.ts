/**
 * A worker in a child process, so a test can kill it outright (SIGKILL) the way a host dies. With
 * DIE_AFTER_GRANT=1 its grant activity commits, prints `committed`, then never returns: the test kills the
 * process at that moment, after the commit and before Temporal hears of it.
 * Env: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATABASE_URL, TASK_QUEUE.
 */
import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { openDatabase } from '../../db/connect';
import { createLogger } from '../../workers/logger';
import { createWorker, installTemporalRuntime } from '../../workers/worker';

async function main() {
  installTemporalRuntime(createLogger('error'));
  const db = openDatabase({ kind: 'postgres', url: process.env.DATABASE_URL as string });
  const secretKey = Buffer.from(process.env.PORTAL_SECRET_KEY as string, 'base64');
  const real = createActivities({ db, secretKey });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS as string });
  const worker = await createWorker({
    connection, namespace: process.env.TEMPORAL_NAMESPACE as string, taskQueue: process.env.TASK_QUEUE as string, db, secretKey,
    connectorKinds: process.env.CONNECTOR_KINDS ? process.env.CONNECTOR_KINDS.split(',') : [],
    activities: process.env.DIE_AFTER_GRANT === '1'
      ? {
        grantBundle: async (input) => {
          await real.grantBundle(input);
          process.stdout.write('committed\n');
          return new Promise(() => undefined);
        },
      }
      : {},
  });
  process.stdout.write('ready\n');
  await worker.run();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
