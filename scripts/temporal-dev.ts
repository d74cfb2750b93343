/**
 * The local Temporal dev server: temporal-dev.yaml translated into `temporal server start-dev` flags, a
 * start that waits until the frontend answers, and a stop that ends the process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { parse } from 'yaml';
import { z } from 'zod';

const devConfigSchema = z.strictObject({
  cli: z.strictObject({ version: z.string() }),
  server: z.strictObject({
    ip: z.string(),
    port: z.number().int().min(1).max(65535),
    uiPort: z.number().int().min(1).max(65535),
    namespace: z.string().min(1),
    dbFilename: z.string().min(1),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']),
  }),
  searchAttributes: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/), z.enum(['Keyword', 'Text', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList'])),
  dynamicConfig: z.record(z.string(), z.unknown()),
});

export type DevServerConfig = z.infer<typeof devConfigSchema>;

export const devConfigPath = join(__dirname, '..', 'temporal-dev.yaml');

/** Reads and validates temporal-dev.yaml. */
export function loadDevServerConfig(path = devConfigPath): DevServerConfig {
  return devConfigSchema.parse(parse(readFileSync(path, 'utf8')));
}

export interface DevServerOverrides {
  port?: number;
  /** A UI port, or null for a headless server. */
  uiPort?: number | null;
  /** An SQLite file, or null for an in-memory server. Relative paths are under dataDir. */
  dbFilename?: string | null;
  dataDir?: string;
}

/** The `temporal server start-dev` arguments for a config plus overrides. */
export function devServerArgs(cfg: DevServerConfig, o: DevServerOverrides = {}): string[] {
  const s = cfg.server;
  const args = ['server', 'start-dev', '--ip', s.ip, '--port', String(o.port ?? s.port), '--namespace', s.namespace, '--log-level', s.logLevel];
  const uiPort = o.uiPort === undefined ? s.uiPort : o.uiPort;
  args.push(...(uiPort === null ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-ip', s.ip]));
  const db = o.dbFilename === undefined ? s.dbFilename : o.dbFilename;
  if (db !== null) args.push('--db-filename', isAbsolute(db) ? db : join(o.dataDir ?? '.data', db));
  for (const [name, type] of Object.entries(cfg.searchAttributes)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(cfg.dynamicConfig)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  return args;
}

/** A free TCP port on loopback. */
/** Binds ip:port (0: any free port) for a moment and answers the port that was bound. */
function bindOnce(ip: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, ip, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function freePort(): Promise<number> {
  return bindOnce('127.0.0.1', 0);
}

export interface RunningDevServer {
  address: string;
  namespace: string;
  uiUrl: string | null;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Refuses a port something else already listens on: the readiness check below would otherwise take that
 * other server's answer for this one's (a second `npm start` silently used the first one's Temporal).
 */
async function ensurePortFree(ip: string, port: number): Promise<void> {
  await bindOnce(ip, port).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'EADDRINUSE'
      ? new Error(`Port ${port} on ${ip} is taken (another Temporal server?): stop it, or set TEMPORAL_ADDRESS=${ip}:${port} to use it, or change server.port in temporal-dev.yaml.`)
      : err;
  });
}

/** Starts the dev server and resolves once its frontend answers (or rejects with its output). */
export async function startDevServer(cli: string, cfg: DevServerConfig, o: DevServerOverrides = {}, timeoutMs = 60_000): Promise<RunningDevServer> {
  await ensurePortFree(cfg.server.ip, o.port ?? cfg.server.port);
  const args = devServerArgs(cfg, o);
  const dbIndex = args.indexOf('--db-filename');
  if (dbIndex >= 0) mkdirSync(dirname(args[dbIndex + 1] as string), { recursive: true });
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  let output = '';
  const collect = (b: Buffer) => {
    output = (output + b.toString()).slice(-8000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: number | null = null;
  child.on('exit', (code) => {
    exited = code ?? -1;
  });

  const address = `${cfg.server.ip}:${o.port ?? cfg.server.port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== null) throw new Error(`Temporal dev server exited (${exited}) before serving:\n${output}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`Temporal dev server did not answer on ${address} within ${timeoutMs} ms:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const uiPort = o.uiPort === undefined ? cfg.server.uiPort : o.uiPort;
  return {
    address,
    namespace: cfg.server.namespace,
    uiUrl: uiPort === null ? null : `http://${cfg.server.ip}:${uiPort}`,
    process: child,
    stop: () => new Promise<void>((resolve) => {
      if (exited !== null) return resolve();
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      child.kill('SIGTERM');
    }),
  };
}
