import { expect } from 'chai';
import { createConnectorContext } from '../../connectors/context';
import { ConnectorError } from '../../connectors/errors';
import { runConnectorStep } from '../../connectors/operations';
import { describeConformance } from '../support/connector-conformance';
import { checkZohoMailExchanges, startZohoMailFake, type ZohoMailFake } from '../fakes/zoho-mail';

describeConformance({ name: 'zoho_mail', start: (options) => startZohoMailFake(options) });

describe('zoho_mail connector specifics', () => {
  let fake: ZohoMailFake;
  before(async () => {
    fake = await startZohoMailFake();
  });
  after(async () => {
    await fake?.close();
  });

  it('should adopt a mailbox its own earlier attempt created, but never one that was there before, whatever its names', async () => {
    const ctx = createConnectorContext(fake.plugin, fake.config, fake.credentials);
    const account = fake.account(501);
    await runConnectorStep(fake.plugin, ctx, { operation: 'create_account', account });
    // The retry of a create whose answer was lost: same names, minutes old.
    const retried = await runConnectorStep(fake.plugin, ctx, { operation: 'create_account', account });
    expect(retried).to.deep.include({ outcome: 'already_in_state' });
    expect(retried.detail).to.include({ adopted: true, provenBy: 'earlier_create' });

    // The same address and names, but the mailbox is a year old: someone else's until an operator says so.
    fake.ageAccount(account.userName, 365);
    try {
      await runConnectorStep(fake.plugin, ctx, { operation: 'create_account', account });
      expect.fail('expected a conflict');
    } catch (err) {
      expect(err).to.be.instanceOf(ConnectorError);
      expect((err as ConnectorError).kind).to.equal('conflict');
    }
  });

  it('should report name fields the API cannot change in evidence instead of pretending they changed', async () => {
    const ctx = createConnectorContext(fake.plugin, fake.config, fake.credentials);
    const account = fake.account(502);
    await runConnectorStep(fake.plugin, ctx, { operation: 'create_account', account });
    const result = await runConnectorStep(fake.plugin, ctx, { operation: 'update_account', userName: account.userName, changes: { familyName: 'Renamed', displayName: 'User Renamed' } });
    expect(result.outcome).to.equal('applied');
    expect(result.detail).to.deep.equal({ notChangeableThroughApi: ['familyName'] });
  });

  it('should have a spec check that refuses calls the reference pages do not document', () => {
    const envelope = { status: { code: 200, description: 'success' }, data: {} };
    const problems = checkZohoMailExchanges([
      { method: 'PATCH', path: '/api/organization/1/accounts/2', query: {}, requestBody: {}, status: 200, responseBody: envelope, responseHeaders: {} },
      { method: 'PUT', path: '/api/organization/1/accounts/2', query: {}, requestBody: { zuid: 1, mode: 'renameUser' }, status: 200, responseBody: envelope, responseHeaders: {} },
      { method: 'GET', path: '/api/organization/1/users', query: {}, requestBody: null, status: 200, responseBody: envelope, responseHeaders: {} },
      { method: 'GET', path: '/api/organization/1/groups', query: { limit: '100' }, requestBody: null, status: 200, responseBody: { data: {} }, responseHeaders: {} },
    ]);
    expect(problems).to.have.length(5);
  });
});
