/** Baseline workflows for benchmarks only (bundled by the bench worker, never by Portal's). */
import { condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';

export const echoUpdate = defineUpdate<number, [number]>('bench.echo');
export const finishUpdate = defineUpdate<void, []>('bench.finish');

/** A workflow whose Update answers at once: the bare Update round trip. */
export async function benchEcho(): Promise<void> {
  let done = false;
  setHandler(echoUpdate, (n) => n);
  setHandler(finishUpdate, () => {
    done = true;
  });
  await condition(() => done);
}

const { benchNoopActivity } = proxyActivities<{ benchNoopActivity(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

/** A workflow that runs one no-op activity: the baseline for plan throughput. */
export async function benchNoop(): Promise<void> {
  await benchNoopActivity();
}
