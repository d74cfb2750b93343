/**
 * The conformance suite every connector passes against its vendor fake (issue: provisioning plans). It drives
 * the connector only through runConnectorStep, the same entry the plan executor uses, so the shared policies
 * (409 adoption, capability checks) are what is tested. Each connector's test file calls
 * `describeConformance(harness)`.
 */
import { expect } from 'chai';
import { capabilitiesOf, type Capability } from '../../connectors/capabilities';
import { createConnectorContext } from '../../connectors/context';
import { ConnectorError, type ConnectorErrorKind } from '../../connectors/errors';
import { runConnectorStep } from '../../connectors/operations';
import type { ConnectorStep } from '../../connectors/steps';
import type { AccountSpec, ConnectorContext, ConnectorPlugin, OperationResult } from '../../connectors/types';
import type { Exchange, FakeVendor, FakeVendorOptions } from '../fakes/fake-vendor';

/** What a vendor fake exposes to the suite. */
export interface ConformanceFake {
  plugin: ConnectorPlugin;
  vendor: FakeVendor;
  /** Configuration and credentials that work against this fake. */
  config: unknown;
  credentials: unknown;
  /** Credentials of the right shape that the fake refuses (wrong secret, revoked token...). */
  badCredentials: unknown;
  /** A group that exists in the fake, as Portal names it in a plan step. */
  group: string;
  /** An assignable application / licence that exists, when the plugin implements assignments. */
  assignment?: string;
  /** A fresh account for this fake's directory (unique userName and externalId per n). */
  account(n: number): AccountSpec;
  /** Puts `count` accounts straight into the fake's state (for paging). */
  seedAccounts(count: number): void;
  /** The fake's page size for account listing (small, so paging is exercised). */
  pageSize: number;
  /** What deleting an account does at this vendor: removes it (default), or deactivates it for good. */
  deletion?: 'removes' | 'deactivates';
  /** The fake's own state, for asserting where things ended. */
  state: {
    account(userName: string): { active: boolean } | null;
    isMember(userName: string, group: string): boolean;
    hasAssignment?(userName: string, assignment: string): boolean;
  };
  /**
   * Checks recorded exchanges against the vendor's published API description (OpenAPI / discovery
   * document / generated SDK metadata); returns one line per violation, empty when all conform.
   */
  checkAgainstSpec(exchanges: Exchange[]): string[];
  close(): Promise<void>;
}

export interface ConformanceHarness {
  /** The connector's kind, for test titles. */
  name: string;
  start(options?: FakeVendorOptions): Promise<ConformanceFake>;
}

async function expectFailure(promise: Promise<unknown>, kind: ConnectorErrorKind): Promise<ConnectorError> {
  try {
    await promise;
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(ConnectorError);
    expect((err as ConnectorError).kind, (err as Error).message).to.equal(kind);
    return err as ConnectorError;
  }
  expect.fail(`expected a ${kind} failure`);
}

/** Registers the shared conformance tests for one connector. */
export function describeConformance(harness: ConformanceHarness): void {
  describe(`${harness.name} connector conformance`, () => {
    let fake: ConformanceFake;
    let ctx: ConnectorContext;
    let capabilities: Capability[];
    let n = 0;
    const run = (step: ConnectorStep): Promise<OperationResult> => runConnectorStep(fake.plugin, ctx, step);
    const fresh = (): AccountSpec => {
      n += 1;
      return fake.account(n);
    };

    before(async () => {
      fake = await harness.start({ recordExchanges: true });
      ctx = createConnectorContext(fake.plugin, fake.config, fake.credentials);
      capabilities = capabilitiesOf(fake.plugin);
    });
    after(async () => {
      await fake?.close();
    });

    it('should describe itself and derive its capabilities from what it implements', () => {
      const description = fake.plugin.describe();
      expect(description.kind).to.equal(harness.name);
      expect(description.rateLimitPerSecond).to.be.greaterThan(0);
      expect(capabilities).to.include.members(['account_provisioning', 'group_membership', 'listing']);
    });

    it('should pass the connection test with good credentials and refuse bad ones as unauthorized', async () => {
      await fake.plugin.testConnection(ctx);
      const bad = createConnectorContext(fake.plugin, fake.config, fake.badCredentials);
      await expectFailure(fake.plugin.testConnection(bad), 'unauthorized');
    });

    it('should create, update, disable, enable and delete an account, each repeat reporting already_in_state', async () => {
      const account = fresh();
      expect((await run({ operation: 'create_account', account })).outcome).to.equal('applied');
      expect(fake.state.account(account.userName)).to.deep.equal({ active: true });

      expect((await run({ operation: 'update_account', userName: account.userName, changes: { displayName: `${account.displayName} II` } })).outcome).to.equal('applied');
      expect((await run({ operation: 'update_account', userName: account.userName, changes: { displayName: `${account.displayName} II` } })).outcome).to.equal('already_in_state');

      expect((await run({ operation: 'disable_account', userName: account.userName })).outcome).to.equal('applied');
      expect(fake.state.account(account.userName)).to.deep.equal({ active: false });
      expect((await run({ operation: 'disable_account', userName: account.userName })).outcome).to.equal('already_in_state');
      expect((await run({ operation: 'enable_account', userName: account.userName })).outcome).to.equal('applied');
      expect((await run({ operation: 'enable_account', userName: account.userName })).outcome).to.equal('already_in_state');

      expect((await run({ operation: 'delete_account', userName: account.userName })).outcome).to.equal('applied');
      if (fake.deletion === 'deactivates') {
        // The vendor never deletes users: the connector deactivates them and says so in the evidence.
        expect(fake.state.account(account.userName)).to.deep.equal({ active: false });
        expect((await run({ operation: 'delete_account', userName: account.userName })).outcome).to.equal('already_in_state');
        return;
      }
      expect(fake.state.account(account.userName)).to.equal(null);
      expect((await run({ operation: 'delete_account', userName: account.userName })).outcome).to.equal('already_in_state');
    });

    it('should adopt an existing account of the same person on a 409 and refuse one that belongs to someone else', async () => {
      const account = fresh();
      await run({ operation: 'create_account', account });
      const again = await run({ operation: 'create_account', account });
      expect(again.outcome).to.equal('already_in_state');
      expect(again.detail).to.include({ adopted: true });

      const impostor: AccountSpec = { ...fresh(), userName: account.userName, email: account.email };
      await expectFailure(run({ operation: 'create_account', account: impostor }), 'conflict');
    });

    it('should treat updating or disabling a missing account as a terminal not_found', async () => {
      const missing = fresh();
      await expectFailure(run({ operation: 'update_account', userName: missing.userName, changes: { displayName: 'Nobody' } }), 'not_found');
      await expectFailure(run({ operation: 'disable_account', userName: missing.userName }), 'not_found');
    });

    it('should add to and remove from a group, repeats reporting already_in_state', async () => {
      const account = fresh();
      await run({ operation: 'create_account', account });
      expect((await run({ operation: 'add_to_group', userName: account.userName, group: fake.group })).outcome).to.equal('applied');
      expect(fake.state.isMember(account.userName, fake.group)).to.equal(true);
      expect((await run({ operation: 'add_to_group', userName: account.userName, group: fake.group })).outcome).to.equal('already_in_state');
      expect((await run({ operation: 'remove_from_group', userName: account.userName, group: fake.group })).outcome).to.equal('applied');
      expect(fake.state.isMember(account.userName, fake.group)).to.equal(false);
      expect((await run({ operation: 'remove_from_group', userName: account.userName, group: fake.group })).outcome).to.equal('already_in_state');
    });

    it('should treat a missing group as not_found', async () => {
      const account = fresh();
      await run({ operation: 'create_account', account });
      await expectFailure(run({ operation: 'add_to_group', userName: account.userName, group: `${fake.group}-missing` }), 'not_found');
    });

    it('should assign and unassign when it implements assignments, and refuse them as invalid when it does not', async () => {
      const account = fresh();
      await run({ operation: 'create_account', account });
      if (!capabilities.includes('assignments')) {
        // The framework refuses what the plugin does not implement, before any vendor call.
        const calls = ctx.http.calls.length;
        await expectFailure(run({ operation: 'assign', userName: account.userName, assignment: 'anything' }), 'invalid');
        expect(ctx.http.calls.length).to.equal(calls);
        return;
      }
      expect((await run({ operation: 'assign', userName: account.userName, assignment: fake.assignment! })).outcome).to.equal('applied');
      expect(fake.state.hasAssignment!(account.userName, fake.assignment!)).to.equal(true);
      expect((await run({ operation: 'assign', userName: account.userName, assignment: fake.assignment! })).outcome).to.equal('already_in_state');
      expect((await run({ operation: 'unassign', userName: account.userName, assignment: fake.assignment! })).outcome).to.equal('applied');
      expect((await run({ operation: 'unassign', userName: account.userName, assignment: fake.assignment! })).outcome).to.equal('already_in_state');
    });

    it('should report a 429 as rate_limited with the vendor Retry-After, then succeed', async () => {
      const account = fresh();
      fake.vendor.throttleNext(1, 2);
      const err = await expectFailure(run({ operation: 'create_account', account }), 'rate_limited');
      expect(err.retryAfterMs).to.equal(2000);
      expect((await run({ operation: 'create_account', account })).outcome).to.equal('applied');
    });

    it('should report a 5xx burst as unavailable (retryable)', async () => {
      fake.vendor.failNext(1, 503);
      const err = await expectFailure(run({ operation: 'create_account', account: fresh() }), 'unavailable');
      expect(err.retryable).to.equal(true);
    });

    it('should page through every account across several pages', async () => {
      fake.seedAccounts(fake.pageSize * 2 + 1);
      const seen = new Set<string>();
      let token: string | null = null;
      let pages = 0;
      do {
        const page = await fake.plugin.listAccounts!(ctx, token);
        for (const account of page.items) {
          expect(seen.has(account.id), `duplicate ${account.id}`).to.equal(false);
          seen.add(account.id);
        }
        token = page.nextPageToken;
        pages += 1;
      } while (token !== null && pages < 100);
      expect(pages).to.be.greaterThan(2);
      expect(seen.size).to.be.at.least(fake.pageSize * 2 + 1);
      const groups = await fake.plugin.listGroups!(ctx, null);
      expect(groups.items.length).to.be.greaterThan(0);
    });

    it('should record every call for evidence without secrets', async () => {
      const account = fresh();
      await run({ operation: 'create_account', account });
      const calls = ctx.http.calls;
      expect(calls.length).to.be.greaterThan(0);
      const serialized = JSON.stringify(calls);
      for (const secret of Object.values(fake.credentials as Record<string, unknown>)) {
        if (typeof secret === 'string' && secret.length > 8) expect(serialized).not.to.include(secret);
      }
      for (const call of calls) expect(call.path.startsWith('/')).to.equal(true);
    });

    it("should speak only what the vendor's published API description allows", () => {
      expect(fake.vendor.exchanges.length).to.be.greaterThan(10);
      expect(fake.checkAgainstSpec(fake.vendor.exchanges)).to.deep.equal([]);
    });
  });
}
