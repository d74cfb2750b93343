import { z } from 'zod';
import { createScimConnector } from '../scim';

/**
 * Atlassian Cloud through the user provisioning SCIM API of an Atlassian Access directory.
 * https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/
 */
const configSchema = z.strictObject({
  /** The directory id shown when the identity provider directory is created in admin.atlassian.com. */
  directoryId: z.string().min(1).max(100).regex(/^[A-Za-z0-9-]+$/),
  apiBaseUrl: z.url().default('https://api.atlassian.com'),
});
const credentialsSchema = z.strictObject({
  /** The directory's API key (a bearer token). */
  apiKey: z.string().min(20).max(1000),
});

export const atlassianCloudConnector = createScimConnector({
  describe: {
    kind: 'atlassian_cloud', displayName: 'Atlassian Cloud', vendor: 'Atlassian',
    docsUrl: 'https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/',
    rateLimitPerSecond: 5,
  },
  configSchema,
  credentialsSchema,
  baseUrl: (config) => `${config.apiBaseUrl}/scim/directory/${encodeURIComponent(config.directoryId)}`,
  authHeaders: (ctx) => ({ authorization: `Bearer ${ctx.credentials.apiKey}` }),
  // https://developer.atlassian.com/cloud/admin/user-provisioning/rest/api-group-users/#api-scim-directory-directoryid-users-userid-delete
  // Atlassian accounts are deactivated, never deleted.
  deletion: 'deactivate',
  membershipCheck: 'group',
  requestIdHeaders: ['atl-traceid', 'x-request-id'],
});
