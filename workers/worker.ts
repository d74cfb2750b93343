import { join } from 'node:path';
import { DefaultLogger, type LogLevel, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { type Activities, createActivities } from '../activities';
import type { Db } from '../db/database';
import { connectorPlugins } from '../connectors/registry';
import { connectorTaskQueue } from '../workflows/task-queues';
import type { RateLimitScope } from './config';
import type { Logger } from './logger';

/** The workflow barrel the worker bundles. */
export const workflowsPath = join(__dirname, '..', 'workflows', 'index.ts');

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  /** The governance task queue; connector queues are derived from it (connectorTaskQueue). */
  taskQueue: string;
  db: Db;
  /** Decrypts connector credentials and signs callback tokens. */
  secretKey: Buffer;
  /** A prebuilt bundle (tests build one per run); otherwise the worker bundles `workflowsPath`. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Replaces activities (tests use it to make a worker die mid-activity); the real ones by default. */
  activities?: Partial<Activities>;
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  /** Connector kinds to serve (default: every registered plugin). */
  connectorKinds?: string[];
  /**
   * Overrides every vendor's documented rate (benchmarks measure the engine against local fakes, not the
   * vendors' limits). Never set in production.
   */
  connectorRateLimitPerSecond?: number;
  /** What the rate limits (default `kind`): see PortalConfig.connectorRateLimitScope. */
  connectorRateLimitScope?: RateLimitScope;
}

/**
 * Portal's workers as one unit: the governance worker (bundled workflows plus their activities) and, per
 * connector kind, an activity worker on that vendor's queue. Deployments may run them apart.
 */
export class PortalWorker {
  constructor(readonly workers: Worker[]) {}

  /** Runs every worker until shutdown; rejects when any of them fails. */
  async run(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.run()));
  }

  shutdown(): void {
    for (const w of this.workers) if (w.getState() === 'RUNNING') w.shutdown();
  }

  getState(): ReturnType<Worker['getState']> {
    return this.workers[0]!.getState();
  }
}

/** Creates the governance worker and the connector workers over shared activities. */
export async function createWorker(deps: WorkerDeps): Promise<PortalWorker> {
  const activities = { ...createActivities({ db: deps.db, secretKey: deps.secretKey }), ...deps.activities };
  const common = {
    connection: deps.connection,
    namespace: deps.namespace,
    ...(deps.shutdownGraceTime !== undefined ? { shutdownGraceTime: deps.shutdownGraceTime } : {}),
  };
  const governance = await Worker.create({
    ...common,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath }),
    activities,
  });
  const connectors: Worker[] = [];
  for (const kind of deps.connectorKinds ?? Object.keys(connectorPlugins)) {
    const plugin = connectorPlugins[kind];
    if (!plugin) throw new Error(`no connector plugin of kind ${kind}`);
    const taskQueue = connectorTaskQueue(deps.taskQueue, kind);
    const rate = deps.connectorRateLimitPerSecond ?? plugin.describe().rateLimitPerSecond;
    if (deps.connectorRateLimitScope === 'instance') await limitEachConnectorInstance(deps.connection, deps.namespace, taskQueue, rate);
    connectors.push(await Worker.create({
      ...common, taskQueue, activities: { executeConnectorStep: activities.executeConnectorStep },
      // Scope `kind`: the server holds the queue, every worker and instance together, to the rate.
      ...(deps.connectorRateLimitScope === 'instance' ? {} : { maxTaskQueueActivitiesPerSecond: rate }),
    }));
  }
  return new PortalWorker([governance, ...connectors]);
}

/** `TASK_QUEUE_TYPE_ACTIVITY` in Temporal's API. */
const ACTIVITY_TASK_QUEUE = 2;

/**
 * Scope `instance`: sets a vendor queue's rate limit per fairness key, in the server's task-queue
 * configuration. Each step is scheduled with its connector instance (one tenant's connection to the vendor)
 * as its fairness key, so every instance gets the vendor's documented rate across all workers, and one
 * tenant's large plan neither exceeds its own connection's limit nor holds up another tenant's steps. The
 * server enforces it only where `matching.enableFairness` is on for the queue (see docs/operations.md).
 * Idempotent: every worker start sets the same value.
 */
async function limitEachConnectorInstance(connection: NativeConnection, namespace: string, taskQueue: string, requestsPerSecond: number): Promise<void> {
  await connection.workflowService.updateTaskQueueConfig({
    namespace, identity: 'portal-worker', taskQueue, taskQueueType: ACTIVITY_TASK_QUEUE,
    updateFairnessKeyRateLimitDefault: { rateLimit: { requestsPerSecond }, reason: 'the vendor\'s documented rate, per connector instance' },
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
      // Connector workers are activity-only by design: the SDK's warning that they poll no workflow tasks is
      // expected, not a fault.
      const expected = entry.message.startsWith('No workflows registered');
      const method = expected ? 'debug' : entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : entry.level === 'INFO' ? 'info' : 'debug';
      logger[method](fields, entry.message);
    }),
  });
}
