import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createConnectorContext } from '../../connectors/context';
import type { ConnectorError } from '../../connectors/errors';
import { microsoft365Connector } from '../../connectors/microsoft365';
import { runConnectorStep } from '../../connectors/operations';
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

    it('should create a grant\'s user (externalId = a person id) without employeeId, which Graph limits to 16 characters, and adopt it on a repeated create', async () => {
      const fake = await startMicrosoft365Fake();
      try {
        const ctx = createConnectorContext(microsoft365Connector as never, fake.config, fake.credentials);
        const account = { ...fake.account(7), externalId: randomUUID() };
        const created = await runConnectorStep(microsoft365Connector as never, ctx, { operation: 'create_account', account });
        expect(created.outcome).to.equal('applied');
        const post = fake.vendor.exchanges.find((x) => x.method === 'POST' && x.path === '/v1.0/users');
        expect(post?.requestBody).not.to.have.property('employeeId');
        // A worker that died after Graph answered: the next attempt finds the user and adopts it.
        const again = await runConnectorStep(microsoft365Connector as never, ctx, { operation: 'create_account', account });
        expect(again).to.deep.include({ outcome: 'already_in_state' });
        expect(again.detail).to.include({ adopted: true, provenBy: 'earlier_create' });
      } finally {
        await fake.close();
      }
    });

    it('should be refused, as Graph refuses it, an employeeId longer than 16 characters', async () => {
      const fake = await startMicrosoft365Fake();
      try {
        const config = fake.config as { tenantId: string; authorityHost: string; graphBaseUrl: string };
        const credentials = fake.credentials as { clientId: string; clientSecret: string };
        const token = await fetch(`${config.authorityHost}/${config.tenantId}/oauth2/v2.0/token`, {
          method: 'POST', body: new URLSearchParams({ client_id: credentials.clientId, client_secret: credentials.clientSecret, scope: 'https://graph.microsoft.com/.default', grant_type: 'client_credentials' }),
        }).then(async (r) => ((await r.json()) as { access_token: string }).access_token);
        const res = await fetch(`${config.graphBaseUrl}/users`, {
          method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ accountEnabled: true, displayName: 'Too Long', mailNickname: 'toolong', userPrincipalName: 'toolong@acme.test', employeeId: randomUUID(), passwordProfile: { password: 'Aa1!xxxxxxxxxxxx' } }),
        });
        expect(res.status).to.equal(400);
        const body = (await res.json()) as { error: { code: string; message: string; details: unknown } };
        expect(body.error.code).to.equal('Request_BadRequest');
        expect(body.error.message).to.equal("Invalid value specified for property 'employeeId' of resource 'User'.");
        expect(body.error.details).to.deep.equal([{ target: 'employeeId', code: 'InvalidLength' }]);
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
