/** Every task queue Portal uses, named once. Deployments may scale a queue's workers independently. */
export const TaskQueues = {
  /** Governance workflows and their Portal-native activities. */
  governance: 'portal-governance',
} as const;

export type TaskQueueName = (typeof TaskQueues)[keyof typeof TaskQueues];
