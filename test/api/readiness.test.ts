import { expect } from 'chai';
import { Client, Connection } from '@temporalio/client';
import type { AddressInfo } from 'node:net';
import { close, listen } from '../../api/server';
import { freePort } from '../../scripts/temporal-dev';
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
