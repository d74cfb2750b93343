/**
 * Portal's parts as deployed: `npm run api` and `npm run worker` each in its own process, started for a
 * benchmark against its dev server and PostgreSQL. A benchmark that drives load from its own process then
 * measures Portal, not the load generator sharing Portal's event loop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../scripts/temporal-dev';

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
 * that it is ready. Its log goes to a file, as a deployed part's goes to its collector: this process, which
 * times the requests, does not read a line per request. The log's errors are passed through to this
 * process's stderr when the part stops (or fails to start).
 */
export async function startPortalProcess(part: Part, env: Record<string, string>): Promise<PortalProcess> {
  const dir = mkdtempSync(join(tmpdir(), `portal-bench-${part}-`));
  const logFile = join(dir, 'log.jsonl');
  const out = openSync(logFile, 'w');
  const child: ChildProcess = spawn(process.execPath, [...(process.env.BENCH_PART_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', entrypoints[part]], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', out, 'inherit'],
  });
  closeSync(out);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code) => {
    exitCode = code;
    resolve();
  }));
  const entries = () => readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((line) => {
    try {
      return { line, entry: JSON.parse(line) as { msg?: string; level?: number } };
    } catch {
      return { line, entry: { level: 50 } };
    }
  });
  const passErrors = () => {
    for (const { line, entry } of entries()) if ((entry.level ?? 0) >= 50) process.stderr.write(`[${part}] ${line}\n`);
    rmSync(dir, { recursive: true, force: true });
  };
  for (;;) {
    if (exitCode !== undefined) {
      passErrors();
      throw new Error(`the ${part} process exited (${exitCode}) before it was ready`);
    }
    if (entries().some(({ entry }) => entry.msg === readyMessages[part])) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      passErrors();
    },
  };
}

/**
 * `npm run api` and `npm run worker` as their own processes against a benchmark's dev server and PostgreSQL,
 * on the governance task queue as deployed. The API listens on the returned port; stop stops the API first.
 */
export async function startApiAndWorker(address: string, namespace: string, databaseUrl: string, secretKey: Buffer): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const env = { DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace, PORTAL_SECRET_KEY: secretKey.toString('base64') };
  const [worker, api] = await Promise.all([startPortalProcess('worker', env), startPortalProcess('api', { ...env, PORTAL_PORT: String(port) })]);
  return {
    port,
    stop: async () => {
      await api.stop();
      await worker.stop();
    },
  };
}
