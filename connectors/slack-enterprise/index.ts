import { z } from 'zod';
import { createScimConnector } from '../scim';

/**
 * Slack Enterprise Grid through Slack's SCIM API v2 (users and IdP groups).
 * https://api.slack.com/admins/scim2
 */
const configSchema = z.strictObject({
  baseUrl: z.url().default('https://api.slack.com/scim/v2'),
});
const credentialsSchema = z.strictObject({
  /** An OAuth user token (xoxp-) of an Org Owner or Admin, with the `admin` scope. */
  token: z.string().min(20).max(500),
});

export const slackEnterpriseConnector = createScimConnector({
  describe: {
    kind: 'slack_enterprise', displayName: 'Slack Enterprise Grid', vendor: 'Slack', docsUrl: 'https://api.slack.com/admins/scim2',
    // The SCIM API's per-method limits are low (tens of requests a minute for writes): Portal stays at 1 a second
    // and honours 429 Retry-After.
    rateLimitPerSecond: 1,
  },
  configSchema,
  credentialsSchema,
  baseUrl: (config) => config.baseUrl,
  authHeaders: (ctx) => ({ authorization: `Bearer ${ctx.credentials.token}` }),
  // https://api.slack.com/admins/scim2#delete-users : Slack deactivates, it never deletes a user.
  deletion: 'deactivate',
  membershipCheck: 'group',
  requestIdHeaders: ['x-slack-req-id'],
});
