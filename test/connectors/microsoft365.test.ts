import { expect } from 'chai';
import { createConnectorContext } from '../../connectors/context';
import type { ConnectorError } from '../../connectors/errors';
import { microsoft365Connector } from '../../connectors/microsoft365';
import { describeConformance } from '../support/connector-conformance';
import { startMicrosoft365Fake } from '../fakes/microsoft365';

describeConformance({ name: 'microsoft365', start: (options) => startMicrosoft365Fake(options) });

describe('microsoft365 connector', () => {
  describe('when getting app-only tokens', () => {
    it('should fetch one token with client credentials and reuse it', async () => {
      const fake = await startMicrosoft365Fake();
      try {
        const ctx = createConnectorContext(microsoft365Connector as never, fake.config, fake.credentials);
        await microsoft365Connector.testConnection(ctx as never);
        await microsoft365Connector.testConnection(ctx as never);
        expect(ctx.http.calls.filter((c) => c.path.endsWith('/oauth2/v2.0/token'))).to.have.length(1);
        expect(ctx.http.calls.every((c) => c.vendorRequestId !== null)).to.equal(true);
        expect(JSON.stringify(ctx.http.calls)).not.to.include((fake.credentials as { clientSecret: string }).clientSecret);
      } finally {
        await fake.close();
      }
    });

    it('should classify invalid_client (AADSTS7000215) as unauthorized', async () => {
      const fake = await startMicrosoft365Fake();
      try {
        const ctx = createConnectorContext(microsoft365Connector as never, fake.config, fake.badCredentials);
        let err: unknown;
        await microsoft365Connector.testConnection(ctx as never).catch((e: unknown) => {
          err = e;
        });
        expect((err as ConnectorError).kind).to.equal('unauthorized');
        expect((err as ConnectorError).vendorCode).to.equal('invalid_client');
      } finally {
        await fake.close();
      }
    });
  });

  describe("when Graph answers with its own quirks", () => {
    it('should read a taken userPrincipalName (400 Request_BadRequest) as a conflict and an existing member (400) as already_in_state', async () => {
      const fake = await startMicrosoft365Fake();
      try {
        const ctx = createConnectorContext(microsoft365Connector as never, fake.config, fake.credentials);
        const account = fake.account(1);
        await microsoft365Connector.createAccount!(ctx as never, account);
        let err: unknown;
        await microsoft365Connector.createAccount!(ctx as never, account).catch((e: unknown) => {
          err = e;
        });
        expect((err as ConnectorError).kind).to.equal('conflict');
        expect((err as ConnectorError).status).to.equal(400);
        await microsoft365Connector.addToGroup!(ctx as never, account.userName, fake.group);
        expect((await microsoft365Connector.addToGroup!(ctx as never, account.userName, fake.group)).outcome).to.equal('already_in_state');
        expect(fake.vendor.exchanges.some((x) => x.status === 400 && JSON.stringify(x.responseBody).includes('added object references already exist'))).to.equal(true);
      } finally {
        await fake.close();
      }
    });

    it('should page users by following @odata.nextLink', async () => {
      const fake = await startMicrosoft365Fake({ pageSize: 2 });
      try {
        fake.seedAccounts(5);
        const ctx = createConnectorContext(microsoft365Connector as never, fake.config, fake.credentials);
        const first = await microsoft365Connector.listAccounts!(ctx as never, null);
        expect(first.items).to.have.length(2);
        expect(first.nextPageToken).to.match(/\$skiptoken=/);
      } finally {
        await fake.close();
      }
    });
  });
});
