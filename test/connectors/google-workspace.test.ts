import { expect } from 'chai';
import { createConnectorContext } from '../../connectors/context';
import type { ConnectorError } from '../../connectors/errors';
import { googleWorkspaceConnector } from '../../connectors/google-workspace';
import { describeConformance } from '../support/connector-conformance';
import { startGoogleWorkspaceFake } from '../fakes/google-workspace';

describeConformance({ name: 'google_workspace', start: (options) => startGoogleWorkspaceFake(options) });

describe('google_workspace connector', () => {
  describe('when authenticating as the service account', () => {
    it('should get one token with a signed JWT and reuse it until it nears expiry', async () => {
      const fake = await startGoogleWorkspaceFake();
      try {
        const ctx = createConnectorContext(googleWorkspaceConnector as never, fake.config, fake.credentials);
        await googleWorkspaceConnector.testConnection(ctx as never);
        await googleWorkspaceConnector.testConnection(ctx as never);
        expect(ctx.http.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).to.deep.equal([
          'POST /token 200', 'GET /admin/directory/v1/users 200', 'GET /admin/directory/v1/users 200',
        ]);
        const key = (fake.credentials as { private_key: string }).private_key;
        expect(JSON.stringify(ctx.http.calls)).not.to.include(key.slice(40, 80));
      } finally {
        await fake.close();
      }
    });

    it('should treat a signature Google rejects (invalid_grant, HTTP 400) as unauthorized', async () => {
      const fake = await startGoogleWorkspaceFake();
      try {
        const ctx = createConnectorContext(googleWorkspaceConnector as never, fake.config, fake.badCredentials);
        let err: unknown;
        await googleWorkspaceConnector.testConnection(ctx as never).catch((e: unknown) => {
          err = e;
        });
        expect((err as ConnectorError).kind).to.equal('unauthorized');
        expect((err as ConnectorError).vendorCode).to.equal('invalid_grant');
      } finally {
        await fake.close();
      }
    });
  });

  describe('when removing a member Google does not know', () => {
    it('should tell a missing member (already_in_state) from a missing group (not_found) although both are 404', async () => {
      const fake = await startGoogleWorkspaceFake();
      try {
        const ctx = createConnectorContext(googleWorkspaceConnector as never, fake.config, fake.credentials);
        expect((await googleWorkspaceConnector.removeFromGroup!(ctx as never, 'nobody@acme.test', fake.group)).outcome).to.equal('already_in_state');
        let err: unknown;
        await googleWorkspaceConnector.removeFromGroup!(ctx as never, 'nobody@acme.test', 'ghost@acme.test').catch((e: unknown) => {
          err = e;
        });
        expect((err as ConnectorError).kind).to.equal('not_found');
      } finally {
        await fake.close();
      }
    });
  });
});
