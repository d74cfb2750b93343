/** Every task queue Portal uses, named once. Deployments may scale a queue's workers independently. */
export const TaskQueues = {
  /** Governance workflows and their Portal-native activities. */
  governance: 'portal-governance',
} as const;

export type TaskQueueName = (typeof TaskQueues)[keyof typeof TaskQueues];

/**
 * The task queue a connector kind's steps run on, derived from the governance queue that runs the plan, so
 * a deployment's queues pair up (and each test's unique queue gets its own). Its workers are limited to the
 * vendor's rate (activities per second across all workers of the queue).
 */
export function connectorTaskQueue(governanceQueue: string, kind: string): string {
  return `${governanceQueue}.connectors.${kind}`;
}
