import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { expect } from 'chai';
import { planActivities } from '../../activities/plans';
import { createConnectorContext } from '../../connectors/context';
import type { ConnectorError } from '../../connectors/errors';
import { googleWorkspaceConnector } from '../../connectors/google-workspace';
import { createConnectorInstance } from '../../db/repositories/connector-instances';
import { getPlan, insertPlan } from '../../db/repositories/plans';
import { encryptSecret } from '../../workers/secrets';
import { testEnv } from '../support/env';
import { seedTenant, testSecretKey } from '../support/fixtures';
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

  describe('when configured with a private key that does not parse', () => {
    it('should refuse the credentials, naming the field and not the key', async () => {
      const fake = await startGoogleWorkspaceFake();
      try {
        const garbled = `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(120)}\n-----END PRIVATE KEY-----\n`;
        const parsed = googleWorkspaceConnector.credentialsSchema.safeParse({ ...(fake.credentials as object), private_key: garbled });
        expect(parsed.success).to.equal(false);
        expect(parsed.error?.issues.map((i) => i.path.join('.'))).to.deep.equal(['private_key']);
        expect(JSON.stringify(parsed.error?.issues.map((i) => i.message))).not.to.include('AAAA');
        expect(googleWorkspaceConnector.credentialsSchema.safeParse(fake.credentials).success).to.equal(true);
      } finally {
        await fake.close();
      }
    });
  });

  describe("when a step's connector throws something that is not a vendor's answer", () => {
    it('should record the attempt with evidence that names no secret, and fail it for good', async () => {
      const fake = await startGoogleWorkspaceFake();
      const original = googleWorkspaceConnector.createAccount;
      try {
        const db = testEnv().db;
        const tenantId = (await seedTenant('customer', 'google-fault')).id;
        const instance = (await createConnectorInstance(db, {
          tenantId, kind: 'google_workspace', name: 'google', config: fake.config as Record<string, unknown>,
          credentialsCiphertext: encryptSecret(testSecretKey, JSON.stringify(fake.credentials)),
        }))!;
        const account = fake.account(1);
        const planId = randomUUID();
        await db.transaction().execute((tx) => insertPlan(tx, {
          id: planId, tenantId, origin: { kind: 'operator', id: 'test' }, reason: 'fault', createdBy: { kind: 'system', id: 'test' },
          steps: [{
            key: 'create', target: { system: 'connector', connectorInstanceId: instance.id, connectorKind: 'google_workspace' }, operation: 'create_account',
            targetObject: account.userName, parameters: { account }, dependsOn: [], callbackDeadlineSeconds: null,
          }],
          initialStatus: { status: 'running', round: 1, succeeded: [], failed: [] },
        }));
        // What node:crypto throws for a key it cannot use, with key material in its message.
        const key = (fake.credentials as { private_key: string }).private_key;
        googleWorkspaceConnector.createAccount = () => {
          throw Object.assign(new Error(`error:1E08010C:DECODER routines::unsupported ${key.slice(40, 80)}`), { code: 'ERR_OSSL_UNSUPPORTED' });
        };
        const activities = planActivities({ db, secretKey: testSecretKey });
        let failure: unknown;
        await new MockActivityEnvironment({ attempt: 1 }, { logger: new DefaultLogger('ERROR', () => {}) }).run(activities.executeConnectorStep, { tenantId, planId, stepKey: 'create', round: 1 }).catch((e: unknown) => {
          failure = e;
        });
        expect(failure).to.be.instanceOf(ApplicationFailure);
        expect((failure as ApplicationFailure).nonRetryable).to.equal(true);
        const plan = await getPlan(db, tenantId, planId);
        expect(plan!.evidence.map((e) => e.outcome)).to.deep.equal(['failed_terminal']);
        expect(plan!.evidence[0]!.error).to.include({ kind: 'connector_fault', message: 'the connector failed without a vendor answer (Error ERR_OSSL_UNSUPPORTED)' });
        expect(JSON.stringify(plan!.evidence)).not.to.include(key.slice(40, 80));
      } finally {
        googleWorkspaceConnector.createAccount = original;
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
