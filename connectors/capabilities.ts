import type { ConnectorPlugin, StepOperation } from './types';

/** The capability interfaces of types.ts, by name. */
export const Capabilities = {
  account_provisioning: ['getAccount', 'createAccount', 'updateAccount', 'disableAccount', 'enableAccount', 'deleteAccount'],
  group_membership: ['addToGroup', 'removeFromGroup'],
  assignments: ['assign', 'unassign'],
  listing: ['listAccounts', 'listGroups'],
} as const;
export type Capability = keyof typeof Capabilities;

/**
 * What a plugin can do, derived from the functions it implements: a capability counts only when every
 * method of its interface is present, so a half-implemented interface is not advertised.
 */
export function capabilitiesOf(plugin: ConnectorPlugin): Capability[] {
  const record = plugin as unknown as Record<string, unknown>;
  return (Object.keys(Capabilities) as Capability[]).filter((cap) => Capabilities[cap].every((method) => typeof record[method] === 'function'));
}

/** The capability a step operation needs. */
export function capabilityFor(operation: Exclude<StepOperation, 'manual_task'>): Capability {
  switch (operation) {
    case 'create_account':
    case 'update_account':
    case 'enable_account':
    case 'disable_account':
    case 'delete_account':
      return 'account_provisioning';
    case 'add_to_group':
    case 'remove_from_group':
      return 'group_membership';
    case 'assign':
    case 'unassign':
      return 'assignments';
  }
}
