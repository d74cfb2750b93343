import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes Portal sets on its workflows so operators find runs in the Temporal UI by business
 * identity. They must be registered on the cluster: temporal-dev.yaml lists them for the dev server;
 * docs/operations.md has the commands for a production cluster.
 */
export const PortalTenantId = defineSearchAttributeKey('PortalTenantId', SearchAttributeType.KEYWORD);
export const PortalPersonId = defineSearchAttributeKey('PortalPersonId', SearchAttributeType.KEYWORD);
export const PortalStatus = defineSearchAttributeKey('PortalStatus', SearchAttributeType.KEYWORD);
export const PortalBundleId = defineSearchAttributeKey('PortalBundleId', SearchAttributeType.KEYWORD);
