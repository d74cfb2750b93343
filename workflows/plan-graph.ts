/**
 * Pure rules over a plan's step graph: what makes a valid plan (unique keys, known dependencies, no cycle)
 * and which steps may run now. Used by the API when a plan is created and by the plan workflow.
 */

export interface StepNode {
  key: string;
  dependsOn: readonly string[];
}

/** Problems with a step graph, one line each; empty when the graph is valid. */
export function planGraphProblems(steps: readonly StepNode[]): string[] {
  const problems: string[] = [];
  const keys = new Set<string>();
  for (const step of steps) {
    if (keys.has(step.key)) problems.push(`step ${step.key} is defined twice`);
    keys.add(step.key);
  }
  for (const step of steps) {
    for (const dep of step.dependsOn) {
      if (!keys.has(dep)) problems.push(`step ${step.key} depends on unknown step ${dep}`);
      if (dep === step.key) problems.push(`step ${step.key} depends on itself`);
    }
  }
  if (problems.length === 0 && topologicalOrder(steps) === null) problems.push('the steps depend on each other in a cycle');
  return problems;
}

/** Keys in an order where every step follows its dependencies (ties keep plan order), or null on a cycle. */
export function topologicalOrder(steps: readonly StepNode[]): string[] | null {
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < steps.length) {
    const next = steps.find((s) => !done.has(s.key) && s.dependsOn.every((d) => done.has(d)));
    if (!next) return null;
    done.add(next.key);
    order.push(next.key);
  }
  return order;
}

export type NodeStatus = 'pending' | 'running' | 'awaiting_callback' | 'succeeded' | 'failed' | 'blocked';

/**
 * The pending steps whose dependencies all succeeded, in plan order; and the pending steps that can never
 * run because a dependency failed or is blocked.
 */
export function schedulable(steps: readonly StepNode[], status: Readonly<Record<string, NodeStatus>>): { ready: string[]; blocked: string[] } {
  const ready: string[] = [];
  const blocked: string[] = [];
  for (const step of steps) {
    if (status[step.key] !== 'pending') continue;
    if (step.dependsOn.some((d) => status[d] === 'failed' || status[d] === 'blocked')) blocked.push(step.key);
    else if (step.dependsOn.every((d) => status[d] === 'succeeded')) ready.push(step.key);
  }
  return { ready, blocked };
}
