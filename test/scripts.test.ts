import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';

const root = join(__dirname, '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

describe('scripts/temporal-cli.ts', () => {
  describe('when neither the CLI nor Go is available', () => {
    it('should say exactly what to install', () => {
      const res = spawnSync(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'temporal-cli.ts')], {
        env: { PATH: '/usr/bin:/bin', HOME: mkdtempSync(join(tmpdir(), 'portal-home-')), XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'portal-cache-')) },
        encoding: 'utf8',
      });
      expect(res.status).to.equal(1);
      expect(res.stderr).to.include('The Temporal CLI v1.5.1 is needed').and.include('Go 1.24 or newer').and.include('TEMPORAL_ADDRESS');
    });
  });

  describe('when PORTAL_TEMPORAL_CLI names something that is not a CLI', () => {
    it('should refuse it', () => {
      const res = spawnSync(tsx, [join(root, 'scripts', 'temporal-cli.ts')], { env: { ...process.env, PORTAL_TEMPORAL_CLI: '/nonexistent/temporal' }, encoding: 'utf8' });
      expect(res.status).to.equal(1);
      expect(res.stderr).to.include('is not a runnable Temporal CLI');
    });
  });
});

describe('scripts/portal.ts', () => {
  describe('when given an unknown command', () => {
    it('should print usage and exit 2', () => {
      const res = spawnSync(tsx, [join(root, 'scripts', 'portal.ts'), 'frobnicate'], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: '' } });
      expect(res.status).to.equal(2);
      expect(res.stderr).to.include('portal token create');
    });
  });

  describe('when bootstrapping and creating tokens on a fresh embedded database', () => {
    it('should create the operator token once and refuse unknown permissions', () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'portal-data-'));
      const env = { ...process.env, DATABASE_URL: '', PORTAL_DATA_DIR: dataDir };
      const run = (...args: string[]) => spawnSync(tsx, [join(root, 'scripts', 'portal.ts'), ...args], { encoding: 'utf8', env });
      const first = run('bootstrap');
      expect(first.status, first.stderr).to.equal(0);
      expect(first.stdout).to.match(/token \(shown once\): portal_[A-Za-z0-9_-]{43}/);
      expect(run('bootstrap').status).to.equal(1);
      const bad = run('token', 'create', '--tenant', 'operator', '--name', 'x', '--permissions', 'portal.everything');
      expect(bad.status).to.equal(2);
      expect(bad.stderr).to.include('unknown permissions: portal.everything');
      const ok = run('token', 'create', '--tenant', 'operator', '--name', 'ops', '--permissions', 'portal.audit.view');
      expect(ok.status, ok.stderr).to.equal(0);
      expect(ok.stdout).to.match(/for tenant operator \(shown once\): portal_/);
    });
  });
});
