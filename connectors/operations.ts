import { capabilityFor, capabilitiesOf } from './capabilities';
import { ConnectorError } from './errors';
import type { ConnectorStep } from './steps';
import type { AccountProvisioning, AccountRecord, AccountSpec, ConnectorContext, ConnectorPlugin, OperationResult } from './types';

/**
 * Runs one connector step against a plugin, applying the policies every connector shares:
 * - a capability the plugin lacks is a terminal `invalid`;
 * - a create that conflicts is resolved by reading the account: the same person (externalId equal) is
 *   adopted as `already_in_state` (after an update if its fields differ), anyone else is a terminal conflict;
 * - everything else is the plugin's answer, or its ConnectorError.
 */
export async function runConnectorStep(plugin: ConnectorPlugin, ctx: ConnectorContext, step: ConnectorStep): Promise<OperationResult> {
  const capability = capabilityFor(step.operation);
  if (!capabilitiesOf(plugin).includes(capability)) {
    throw new ConnectorError({ kind: 'invalid', message: `${plugin.describe().kind} does not implement ${capability}` });
  }
  const accounts = plugin as ConnectorPlugin & AccountProvisioning;
  switch (step.operation) {
    case 'create_account':
      return createOrAdopt(accounts, ctx, step.account);
    case 'update_account':
      return accounts.updateAccount(ctx, step.userName, step.changes);
    case 'enable_account':
      return accounts.enableAccount(ctx, step.userName);
    case 'disable_account':
      return accounts.disableAccount(ctx, step.userName);
    case 'delete_account':
      return accounts.deleteAccount(ctx, step.userName);
    case 'add_to_group':
      return plugin.addToGroup!(ctx, step.userName, step.group);
    case 'remove_from_group':
      return plugin.removeFromGroup!(ctx, step.userName, step.group);
    case 'assign':
      return plugin.assign!(ctx, step.userName, step.assignment);
    case 'unassign':
      return plugin.unassign!(ctx, step.userName, step.assignment);
  }
}

async function createOrAdopt(plugin: ConnectorPlugin & AccountProvisioning, ctx: ConnectorContext, account: AccountSpec): Promise<OperationResult> {
  try {
    return await plugin.createAccount(ctx, account);
  } catch (err) {
    if (!(err instanceof ConnectorError) || err.kind !== 'conflict') throw err;
    const existing = await plugin.getAccount(ctx, account.userName);
    // Proof the account is this person's: the externalId Portal set, or, for a vendor that keeps none,
    // the plugin's proof that an earlier attempt of this create made it.
    const provenBy = existing === null ? null
      : existing.externalId !== null ? (existing.externalId === account.externalId ? 'external_id' : null)
        : plugin.provesEarlierCreate?.(existing, account, ctx.now()) ? 'earlier_create' : null;
    if (existing === null || provenBy === null) {
      throw new ConnectorError({ kind: 'conflict', status: err.status, vendorCode: err.vendorCode, message: `${account.userName} exists and belongs to someone else` });
    }
    const changes = differingFields(account, existing);
    if (Object.keys(changes).length > 0) await plugin.updateAccount(ctx, account.userName, changes);
    return { outcome: 'already_in_state', externalId: existing.id, detail: { adopted: true, provenBy, updatedFields: Object.keys(changes) } };
  }
}

/**
 * The proof `provesEarlierCreate` gives for a vendor that stores no identifier of Portal's: the account was
 * created within `windowMs` of now and carries exactly the names Portal sends. An older or differently
 * named account is someone else's until an operator says otherwise.
 */
export function isRecentSameNamedCreate(existing: AccountRecord, wanted: AccountSpec, now: Date, windowMs: number): boolean {
  const same = (a: string | null, b: string) => (a ?? '').toLowerCase() === b.toLowerCase();
  return existing.createdAt instanceof Date && now.getTime() - existing.createdAt.getTime() < windowMs
    && same(existing.displayName, wanted.displayName) && same(existing.givenName, wanted.givenName) && same(existing.familyName, wanted.familyName);
}

/** The fields of `wanted` that the vendor's record holds differently. */
export function differingFields(wanted: Partial<AccountSpec>, existing: AccountRecord): Partial<Omit<AccountSpec, 'userName'>> {
  const changes: Partial<Omit<AccountSpec, 'userName'>> = {};
  for (const field of ['displayName', 'givenName', 'familyName', 'email'] as const) {
    const value = wanted[field];
    if (value !== undefined && (existing[field] ?? '').toLowerCase() !== value.toLowerCase()) changes[field] = value;
  }
  if (wanted.active !== undefined && existing.active !== wanted.active) changes.active = wanted.active;
  return changes;
}
