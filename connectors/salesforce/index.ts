import { z } from 'zod';
import { createScimConnector } from '../scim';

/**
 * Salesforce through its SCIM 2.0 endpoint: users, public groups, and entitlements (the profile every user
 * needs, and permission sets as assignments). Users are deactivated, never deleted. See README.md.
 * https://help.salesforce.com/s/articleView?id=sf.identity_scim_overview.htm
 */
const configSchema = z.strictObject({
  /** `https://<domain>.my.salesforce.com`. */
  instanceUrl: z.url(),
  /** The profile (an Entitlements id, `00e…`) given to every user Portal creates; Salesforce requires one. */
  profileId: z.string().regex(/^[A-Za-z0-9]{15,18}$/),
});
const credentialsSchema = z.strictObject({
  /** An OAuth access token of an integration user with "Manage Users" (JWT bearer or client credentials flow). */
  accessToken: z.string().min(20).max(4000),
});

export const salesforceConnector = createScimConnector({
  describe: {
    kind: 'salesforce', displayName: 'Salesforce', vendor: 'Salesforce',
    docsUrl: 'https://help.salesforce.com/s/articleView?id=sf.identity_scim_overview.htm',
    // API calls count against the org's daily allocation; Portal stays at 5 a second.
    rateLimitPerSecond: 5,
  },
  configSchema,
  credentialsSchema,
  baseUrl: (config) => `${config.instanceUrl.replace(/\/$/, '')}/services/scim/v2`,
  authHeaders: (ctx) => ({ authorization: `Bearer ${ctx.credentials.accessToken}` }),
  // Salesforce never deletes users: they are deactivated.
  deletion: 'deactivate',
  membershipCheck: 'group',
  createAttributes: (config) => ({ entitlements: [{ value: config.profileId, type: 'Profile', primary: true }] }),
  // Permission sets (`0PS…`) are entitlements of the user: https://help.salesforce.com/s/articleView?id=sf.identity_scim_manage_users.htm
  entitlements: true,
  requestIdHeaders: ['x-request-id'],
});
