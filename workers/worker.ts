import { join } from 'node:path';
import { DefaultLogger, type LogLevel, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { type Activities, createActivities } from '../activities';
import type { Db } from '../db/database';
import type { Logger } from './logger';

/** The workflow barrel the worker bundles. */
export const workflowsPath = join(__dirname, '..', 'workflows', 'index.ts');

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  db: Db;
  /** A prebuilt bundle (tests build one per run); otherwise the worker bundles `workflowsPath`. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Replaces activities (tests use it to make a worker die mid-activity); the real ones by default. */
  activities?: Partial<Activities>;
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
}

/** A worker for the governance task queue: bundled workflows plus activities bound to their dependencies. */
export async function createWorker(deps: WorkerDeps): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath }),
    activities: { ...createActivities({ db: deps.db }), ...deps.activities },
    ...(deps.shutdownGraceTime !== undefined ? { shutdownGraceTime: deps.shutdownGraceTime } : {}),
  });
}

let runtimeInstalled = false;

/** Routes the Temporal SDK's own logs into our structured logger (once per process). */
export function installTemporalRuntime(logger: Logger, level: LogLevel = 'WARN'): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    // Processes stop their workers themselves, in order (API first, then worker, then connections).
    shutdownSignals: [],
    logger: new DefaultLogger(level, (entry) => {
      const fields = { ...entry.meta, component: 'temporal-sdk' };
      const method = entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : entry.level === 'INFO' ? 'info' : 'debug';
      logger[method](fields, entry.message);
    }),
  });
}
