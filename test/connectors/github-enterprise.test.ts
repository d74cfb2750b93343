import { expect } from 'chai';
import { emuLogin, githubEnterpriseConnector } from '../../connectors/github-enterprise';
import { createConnectorContext } from '../../connectors/context';
import { ConnectorError } from '../../connectors/errors';
import { describeConformance } from '../support/connector-conformance';
import { startGithubEnterpriseFake } from '../fakes/github-enterprise';

describeConformance({ name: 'github_enterprise', start: (options) => startGithubEnterpriseFake(options) });

describe('github_enterprise connector', () => {
  describe('when deriving EMU logins', () => {
    it('should normalise the handle and append the enterprise short code', () => {
      expect(emuLogin('mona.lisa@acme.test', 'acme')).to.equal('mona-lisa_acme');
      expect(emuLogin('J_Doe+ops@acme.test', 'acme')).to.equal('J-Doe-ops_acme');
      expect(emuLogin('plain', 'acme')).to.equal('plain_acme');
    });
  });

  describe('when GitHub answers with its primary rate limit', () => {
    it('should classify a 403 with x-ratelimit-remaining 0 as rate_limited, waiting until the reset', async () => {
      const fake = await startGithubEnterpriseFake();
      try {
        const reset = Math.floor(Date.now() / 1000) + 30;
        // GitHub's primary-limit answer, exactly as it sends it, in place of the network.
        const ctx = createConnectorContext(githubEnterpriseConnector as never, fake.config, fake.credentials);
        const original = globalThis.fetch;
        globalThis.fetch = (async () => new Response(JSON.stringify({ message: 'API rate limit exceeded', documentation_url: 'https://docs.github.com/rest' }), {
          status: 403, headers: { 'content-type': 'application/json', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
        })) as typeof fetch;
        let err: unknown;
        try {
          await githubEnterpriseConnector.testConnection(ctx as never);
        } catch (e) {
          err = e;
        } finally {
          globalThis.fetch = original;
        }
        expect(err).to.be.instanceOf(ConnectorError);
        expect((err as ConnectorError).kind).to.equal('rate_limited');
        expect((err as ConnectorError).retryAfterMs).to.be.within(25_000, 30_000);
      } finally {
        await fake.close();
      }
    });
  });

  describe('when the token is wrong', () => {
    it('should be unauthorized, with the token in no recorded call or message', async () => {
      const fake = await startGithubEnterpriseFake();
      try {
        const ctx = createConnectorContext(githubEnterpriseConnector as never, fake.config, fake.badCredentials);
        let err: unknown;
        await githubEnterpriseConnector.testConnection(ctx as never).catch((e: unknown) => {
          err = e;
        });
        expect((err as ConnectorError).kind).to.equal('unauthorized');
        const token = (fake.badCredentials as { token: string }).token;
        expect(JSON.stringify(ctx.http.calls)).not.to.include(token);
        expect((err as Error).message).not.to.include(token);
        expect(ctx.http.calls[0]?.vendorRequestId).to.match(/^fake-/);
      } finally {
        await fake.close();
      }
    });
  });
});
