import { expect } from 'chai';
import { Client, Connection } from '@temporalio/client';
import { type AddressInfo, createServer } from 'node:net';
import { close, listen } from '../../api/server';
import { freePort, loadDevServerConfig, startDevServer } from '../../scripts/temporal-dev';
import { testEnv, testLogger } from '../support/env';

describe('GET /readyz', () => {
  describe('when Temporal is unreachable', () => {
    it('should answer 503 unavailable naming the failed check', async () => {
      const connection = Connection.lazy({ address: `127.0.0.1:${await freePort()}`, connectTimeout: 500 });
      const server = await listen({ db: testEnv().db, temporal: { client: new Client({ connection }), taskQueue: 'unused' }, logger: testLogger, secretKey: Buffer.alloc(32) }, '127.0.0.1', 0);
      try {
        const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`);
        const body = await res.json() as { code: string; checks: Record<string, string> };
        expect(res.status).to.equal(503);
        expect(body.code).to.equal('unavailable');
        expect(body.checks).to.deep.equal({ database: 'ok', temporal: 'unreachable' });
      } finally {
        await close(server);
      }
    });
  });
});

describe('Starting the API and the dev server', () => {
  describe('when their port is taken', () => {
    it('should refuse to start, naming the port (not listen nowhere, nor use the other server)', async () => {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const port = (taken.address() as AddressInfo).port;
      try {
        const deps = { db: testEnv().db, temporal: { client: testEnv().client, taskQueue: 'unused' }, logger: testLogger, secretKey: Buffer.alloc(32) };
        const api = await listen(deps, '127.0.0.1', port).then(() => 'listening', (err: Error) => err.message);
        expect(api).to.equal(`Port ${port} on 127.0.0.1 is taken: stop what listens there or set PORTAL_PORT.`);
        // Refused before the CLI is started: no CLI is needed to see it.
        const dev = await startDevServer('/nonexistent/temporal', loadDevServerConfig(), { port, uiPort: null, dbFilename: null }).then(() => 'started', (err: Error) => err.message);
        expect(dev).to.match(new RegExp(`^Port ${port} on 127\\.0\\.0\\.1 is taken \\(another Temporal server\\?\\)`));
      } finally {
        await new Promise((resolve) => taken.close(resolve));
      }
    });
  });
});
