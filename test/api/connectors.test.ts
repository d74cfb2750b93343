import { expect } from 'chai';
import { changedEndpointFields } from '../../connectors/context';
import { googleWorkspaceConnector } from '../../connectors/google-workspace';
import { microsoft365Connector } from '../../connectors/microsoft365';
import { createConnectorInstance } from '../../db/repositories/connector-instances';
import { encryptSecret } from '../../workers/secrets';
import { startGoogleWorkspaceFake } from '../fakes/google-workspace';
import { testSecretKey } from '../support/fixtures';
import { testEnv } from '../support/env';
import type { ConformanceFake } from '../support/connector-conformance';
import { startGithubEnterpriseFake } from '../fakes/github-enterprise';
import { createWorld, type World } from '../support/world';

describe('connector instances API', () => {
  let w: World;
  let fake: ConformanceFake;
  let base: string;
  let token: string;

  before(async () => {
    w = await createWorld();
    fake = await startGithubEnterpriseFake();
    base = `/v1/tenants/${w.acme.id}/connectors`;
    token = (fake.credentials as { token: string }).token;
  });
  after(async () => {
    await fake.close();
    await w.stop();
  });

  it('should list the connector kinds Portal ships with their derived capabilities', async () => {
    const res = await w.asAcme.get('/v1/connector-kinds');
    const kinds = Object.fromEntries((res.body.items as { kind: string; capabilities: string[] }[]).map((k) => [k.kind, k.capabilities]));
    expect(kinds.microsoft365).to.have.members(['account_provisioning', 'group_membership', 'assignments', 'listing']);
    expect(kinds.google_workspace).to.have.members(['account_provisioning', 'group_membership', 'listing']);
    expect(kinds.github_enterprise).to.have.members(['account_provisioning', 'group_membership', 'assignments', 'listing']);
  });

  describe('when an instance is configured', () => {
    let id: string;

    before(async () => {
      const res = await w.asAcme.post(base, { kind: 'github_enterprise', name: 'github', config: fake.config, credentials: fake.credentials });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      id = res.body.id;
    });

    it('should never return the credentials, and keep them encrypted at rest', async () => {
      const one = await w.asAcme.get(`${base}/${id}`);
      const list = await w.asAcme.get(base);
      expect(one.body.credentialsSet).to.equal(true);
      for (const body of [one.body, list.body]) expect(JSON.stringify(body)).not.to.include(token);
      const row = await testEnv().db.selectFrom('connector_instances').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      expect(row.credentials_ciphertext).to.match(/^v1\./);
      expect(row.credentials_ciphertext).not.to.include(token);
      const audit = await w.asAcme.get(`/v1/tenants/${w.acme.id}/audit-events?targetId=${id}`);
      expect(audit.body.items.map((a: { action: string }) => a.action)).to.deep.equal(['connector.created']);
      expect(JSON.stringify(audit.body)).not.to.include(token);
    });

    it('should test the connection against the vendor, and report a refusal without the secret', async () => {
      expect((await w.asAcme.post(`${base}/${id}/test`)).body).to.deep.equal({ ok: true, error: null });
      const replaced = await w.asAcme.request('PUT', `${base}/${id}`, { config: fake.config, credentials: fake.badCredentials });
      expect(replaced.status).to.equal(200);
      const failed = await w.asAcme.post(`${base}/${id}/test`);
      expect(failed.body.ok).to.equal(false);
      expect(failed.body.error.kind).to.equal('unauthorized');
      expect(JSON.stringify(failed.body)).not.to.include((fake.badCredentials as { token: string }).token);
      await w.asAcme.request('PUT', `${base}/${id}`, { config: fake.config, credentials: fake.credentials });
    });

    it('should refuse to move an endpoint without the credentials, and accept it with them or a change of nothing else', async () => {
      const config = fake.config as { apiBaseUrl: string };
      const moved = { ...config, apiBaseUrl: 'https://collector.example.net' };
      const refused = await w.asAcme.request('PUT', `${base}/${id}`, { config: moved });
      expect(refused.status, JSON.stringify(refused.body)).to.equal(400);
      expect(refused.body.code).to.equal('credentials_required');
      expect(refused.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.config.apiBaseUrl']);
      const stored = await w.asAcme.get(`${base}/${id}`);
      expect(stored.body.config.apiBaseUrl).to.equal(config.apiBaseUrl);

      // The same endpoints (nothing moved): the stored credentials are kept.
      const same = await w.asAcme.request('PUT', `${base}/${id}`, { config: { ...config } });
      expect(same.status, JSON.stringify(same.body)).to.equal(200);
      expect((await w.asAcme.post(`${base}/${id}/test`)).body).to.deep.equal({ ok: true, error: null });

      const withCredentials = await w.asAcme.request('PUT', `${base}/${id}`, { config: moved, credentials: fake.credentials });
      expect(withCredentials.status, JSON.stringify(withCredentials.body)).to.equal(200);
      const audit = await w.asAcme.get(`/v1/tenants/${w.acme.id}/audit-events?targetId=${id}&action=connector.updated`);
      expect(audit.body.items.at(-1).details).to.deep.equal({ credentialsReplaced: true, endpointsChanged: ['apiBaseUrl'] });
      await w.asAcme.request('PUT', `${base}/${id}`, { config, credentials: fake.credentials });
    });

    it('should refuse a second instance of the same name with name_taken', async () => {
      const res = await w.asAcme.post(base, { kind: 'github_enterprise', name: 'github', config: fake.config, credentials: fake.credentials });
      expect(res.status).to.equal(409);
      expect(res.body.code).to.equal('name_taken');
    });
  });

  describe('when a Google service-account key does not parse', () => {
    let google: ConformanceFake;
    const garbled = `-----BEGIN PRIVATE KEY-----\n${'Zm9v'.repeat(40)}\n-----END PRIVATE KEY-----\n`;
    before(async () => {
      google = await startGoogleWorkspaceFake();
    });
    after(async () => google.close());

    it('should refuse it when the connector is configured, naming the field and not the key', async () => {
      const res = await w.asAcme.post(base, { kind: 'google_workspace', name: 'google-bad-key', config: google.config, credentials: { ...(google.credentials as object), private_key: garbled } });
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.credentials.private_key']);
      expect(JSON.stringify(res.body)).not.to.include('Zm9v');
    });

    it('should answer the connection test of a key stored before that check with a failure, not a 500', async () => {
      const stored = (await createConnectorInstance(testEnv().db, {
        tenantId: w.acme.id, kind: 'google_workspace', name: 'google-stored-bad-key', config: google.config as Record<string, unknown>,
        credentialsCiphertext: encryptSecret(testSecretKey, JSON.stringify({ ...(google.credentials as object), private_key: garbled })),
      }))!;
      const res = await w.asAcme.post(`${base}/${stored.id}/test`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.ok).to.equal(false);
      expect(res.body.error.kind).to.equal('invalid');
      expect(JSON.stringify(res.body)).not.to.include('Zm9v');
    });

    it('should answer a connection test whose connector throws unexpectedly with a connector_fault, not a 500', async () => {
      const created = await w.asAcme.post(base, { kind: 'google_workspace', name: 'google-fault', config: google.config, credentials: google.credentials });
      const original = googleWorkspaceConnector.testConnection;
      googleWorkspaceConnector.testConnection = () => {
        throw new TypeError('Cannot read properties of undefined');
      };
      try {
        const res = await w.asAcme.post(`${base}/${created.body.id}/test`);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        expect(res.body).to.deep.equal({ ok: false, error: { kind: 'connector_fault', status: null, message: 'the connector failed without a vendor answer (TypeError)' } });
      } finally {
        googleWorkspaceConnector.testConnection = original;
      }
    });
  });

  describe('when telling which endpoints a new configuration moves', () => {
    const plugin = microsoft365Connector as never;
    const stored = { tenantId: 'contoso.onmicrosoft.com' };

    it('should count every URL field that differs once defaults are filled in, and nothing else', () => {
      expect(changedEndpointFields(plugin, stored, { ...stored, graphBaseUrl: 'https://graph.microsoft.com/v1.0', usageLocation: 'GB' })).to.deep.equal([]);
      expect(changedEndpointFields(plugin, stored, { ...stored, authorityHost: 'https://login.example.net', graphBaseUrl: 'https://graph.example.net' }))
        .to.deep.equal(['authorityHost', 'graphBaseUrl']);
      // A stored configuration that no longer parses has no endpoint to keep.
      expect(changedEndpointFields(plugin, { unknown: 1 }, stored)).to.deep.equal(['authorityHost', 'graphBaseUrl']);
    });
  });

  describe('when the configuration is not valid', () => {
    it('should refuse an unknown kind with connector_kind_unknown', async () => {
      const res = await w.asAcme.post(base, { kind: 'lotus_notes', name: 'old', config: {}, credentials: {} });
      expect(res.status).to.equal(422);
      expect(res.body.code).to.equal('connector_kind_unknown');
    });

    it("should name each bad field of the plugin's own schemas, never echoing a secret", async () => {
      const secret = 'short';
      const res = await w.asAcme.post(base, { kind: 'github_enterprise', name: 'bad', config: { ...(fake.config as object), enterprise: 'not a slug', extra: 1 }, credentials: { token: secret } });
      expect(res.status).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include.members(['body.config.enterprise', 'body.config', 'body.credentials.token']);
      expect(JSON.stringify(res.body.errors)).not.to.include(`"${secret}"`);
      const rows = await testEnv().db.selectFrom('connector_instances').select('id').where('tenant_id', '=', w.acme.id).where('name', '=', 'bad').execute();
      expect(rows).to.deep.equal([]);
    });
  });
});
