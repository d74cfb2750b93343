/**
 * Portal's parts as deployed: `npm run api` and `npm run worker` each in its own process, started for a
 * benchmark against its dev server and PostgreSQL. A benchmark that drives load from its own process then
 * measures Portal, not the load generator sharing Portal's event loop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface PortalProcess {
  /** Stops the process (SIGTERM: the part's own graceful shutdown) and waits for it to exit. */
  stop(): Promise<void>;
}

const entrypoints = {
  api: join(__dirname, '..', 'api', 'main.ts'),
  worker: join(__dirname, '..', 'workers', 'main.ts'),
  /** A benchmark's own worker (plan worker with lifted vendor limits, or the no-op baseline). */
  benchWorker: join(__dirname, 'worker-process.ts'),
};
const readyMessages = { api: 'api listening', worker: 'worker running', benchWorker: 'worker running' };
type Part = keyof typeof entrypoints;

/**
 * Starts one part with the given environment (DATABASE_URL, TEMPORAL_ADDRESS, ...) and resolves once it logs
 * that it is ready. Its warnings and errors are passed through to this process's stderr.
 */
export function startPortalProcess(part: Part, env: Record<string, string>): Promise<PortalProcess> {
  const child: ChildProcess = spawn(process.execPath, [...(process.env.BENCH_PART_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', entrypoints[part]], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the ${part} process exited (${code}) before it was ready`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: { msg?: string; level?: number } = {};
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        process.stderr.write(`[${part}] ${line}\n`);
        return;
      }
      if (entry.msg === readyMessages[part]) {
        resolve({
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      } else if ((entry.level ?? 0) >= 50) {
        process.stderr.write(`[${part}] ${line}\n`);
      }
    });
  });
}
