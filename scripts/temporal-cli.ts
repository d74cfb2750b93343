/**
 * Finds the pinned Temporal CLI, or builds it once from its Go module into a cache outside the checkout.
 * Order: PORTAL_TEMPORAL_CLI, then `temporal` on PATH when it is the pinned release, then the cache,
 * then `go install` into the cache. With none of these it says exactly what to install.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
/** What `temporal --version` of the pinned release reports (a `go install` build says 0.0.0-DEV). */
const PINNED_SERVER = 'Server 1.29.1';

/** The cache directory for the pinned CLI: XDG cache, outside the checkout, shared by every clone. */
export function temporalCliCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'portal', `temporal-cli-${TEMPORAL_CLI_VERSION}`);
}

function versionOf(binary: string): string | null {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 15_000 }).trim();
  } catch {
    return null;
  }
}

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Returns a path to the pinned Temporal CLI, building it with Go the first time if needed. */
export async function ensureTemporalCli(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<string> {
  const explicit = process.env.PORTAL_TEMPORAL_CLI;
  if (explicit) {
    if (!versionOf(explicit)) throw new Error(`PORTAL_TEMPORAL_CLI=${explicit} is not a runnable Temporal CLI`);
    return explicit;
  }
  const pathVersion = onPath('temporal') ? versionOf('temporal') : null;
  if (pathVersion && (pathVersion.includes(TEMPORAL_CLI_VERSION.slice(1)) || pathVersion.includes(PINNED_SERVER))) return 'temporal';
  if (pathVersion) log(`Ignoring the temporal on PATH (${pathVersion}): Portal pins ${TEMPORAL_CLI_VERSION}.`);

  const binDir = join(temporalCliCacheDir(), 'bin');
  const cached = join(binDir, 'temporal');
  if (existsSync(cached) && versionOf(cached)) return cached;

  if (!onPath('go')) {
    throw new Error([
      `The Temporal CLI ${TEMPORAL_CLI_VERSION} is needed and was not found.`,
      'Install one of:',
      `  - Go 1.24 or newer (https://go.dev/dl/); Portal then builds the CLI itself into ${binDir}`,
      `  - the Temporal CLI ${TEMPORAL_CLI_VERSION} on PATH (https://docs.temporal.io/cli#install)`,
      'or set TEMPORAL_ADDRESS to use an existing Temporal cluster.',
    ].join('\n'));
  }

  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go into ${binDir} (first run only; a few minutes)...`);
  mkdirSync(temporalCliCacheDir(), { recursive: true });
  // Build into a scratch directory and rename, so an interrupted build never leaves a half-written binary.
  const scratch = mkdtempSync(join(temporalCliCacheDir(), 'build-'));
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('go', ['install', '-trimpath', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
        env: { ...process.env, CGO_ENABLED: '0', GOBIN: scratch, GOFLAGS: process.env.GOFLAGS ?? '' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install of the Temporal CLI failed with exit code ${code}`))));
    });
    mkdirSync(binDir, { recursive: true });
    renameSync(join(scratch, 'temporal'), cached);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  log(`Temporal CLI ready: ${cached}`);
  return cached;
}

if (require.main === module) {
  ensureTemporalCli().then((p) => console.log(p), (err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
