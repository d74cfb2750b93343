import { expect } from 'chai';
import { devServerArgs, loadDevServerConfig } from '../scripts/temporal-dev';
import { normalizeTlsConfig } from '@temporalio/common/lib/internal-non-workflow';
import { loadConfig } from '../workers/config';
import { temporalConnectionOptions } from '../workers/temporal-connection';

describe('configuration', () => {
  describe('when the environment is empty', () => {
    it('should use embedded defaults, frozen', () => {
      const c = loadConfig({});
      expect(c).to.include({ host: '127.0.0.1', port: 3000, databaseUrl: null, logLevel: 'info', connectorRateLimitScope: 'kind', hrBurstHoldSeconds: 30 });
      expect(c.temporal).to.deep.equal({ address: null, namespace: 'default', apiKey: null, tls: null });
      expect(Object.isFrozen(c)).to.equal(true);
      expect(Object.isFrozen(c.temporal)).to.equal(true);
    });
  });

  describe('when production settings are given', () => {
    it('should configure the cluster, TLS and API key', () => {
      const c = loadConfig({
        TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'k',
        DATABASE_URL: 'postgres://u@db:5432/portal',
      });
      expect(c.temporal).to.deep.include({ address: 'ns.acct.tmprl.cloud:7233', namespace: 'ns.acct', apiKey: 'k' });
      expect(c.temporal.tls).to.deep.equal({ certPath: null, keyPath: null, caPath: null, serverName: null });
      expect(c.databaseUrl).to.equal('postgres://u@db:5432/portal');
      expect(loadConfig({ PORTAL_CONNECTOR_RATE_LIMIT_SCOPE: 'instance' }).connectorRateLimitScope).to.equal('instance');
      expect(loadConfig({ PORTAL_HR_BURST_HOLD_SECONDS: '0' }).hrBurstHoldSeconds).to.equal(0);
    });
  });

  describe('when TLS is turned off beside an API key (a cluster behind a TLS-terminating proxy)', () => {
    it('should connect without TLS, and with it by default', () => {
      const tlsOf = (env: Record<string, string>) => normalizeTlsConfig(temporalConnectionOptions(loadConfig(env).temporal, 'x:7233').tls, 'k');
      expect(tlsOf({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' })).to.equal(undefined);
      expect(tlsOf({ TEMPORAL_API_KEY: 'k' })).to.deep.equal({});
    });
  });

  describe('when a value is bad', () => {
    it('should fail loudly naming every problem', () => {
      expect(() => loadConfig({ PORTAL_PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' }))
        .to.throw(/PORTAL_PORT[\s\S]*DATABASE_URL[\s\S]*LOG_LEVEL/);
      expect(() => loadConfig({ TEMPORAL_TLS_CERT_PATH: '/c.pem' })).to.throw(/must be set together/);
      expect(() => loadConfig({ PORTAL_CONNECTOR_RATE_LIMIT_SCOPE: 'tenant' })).to.throw(/PORTAL_CONNECTOR_RATE_LIMIT_SCOPE/);
    });
  });
});

describe('temporal-dev.yaml', () => {
  describe('when translated into start-dev flags', () => {
    it('should carry the address, UI, namespace, SQLite file, search attributes and dynamic config', () => {
      const cfg = loadDevServerConfig();
      const args = devServerArgs(cfg, { dataDir: '/data' });
      const joined = args.join(' ');
      expect(args.slice(0, 2)).to.deep.equal(['server', 'start-dev']);
      expect(joined).to.include(`--port ${cfg.server.port}`).and.include(`--ui-port ${cfg.server.uiPort}`);
      expect(joined).to.include(`--namespace ${cfg.server.namespace}`).and.include(`--db-filename /data/${cfg.server.dbFilename}`);
      for (const name of Object.keys(cfg.searchAttributes)) expect(joined).to.include(`--search-attribute ${name}=`);
      expect(joined).to.include('--dynamic-config-value system.forceSearchAttributesCacheRefreshOnRead=true');
    });

    it('should run headless and in memory for tests', () => {
      const args = devServerArgs(loadDevServerConfig(), { port: 1234, uiPort: null, dbFilename: null });
      expect(args).to.include('--headless');
      expect(args).to.not.include('--db-filename');
      expect(args.join(' ')).to.include('--port 1234');
    });
  });
});
