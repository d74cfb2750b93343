import { z } from 'zod';
import { createScimConnector } from '../scim';

/**
 * AWS IAM Identity Center through its SCIM endpoint (users, groups, PATCH membership). Chosen over the
 * Identity Store API because the SCIM endpoint is what Identity Center documents for an external identity
 * source, authenticates with a bearer access token (no AWS signing keys held by Portal) and is the same
 * protocol as Portal's other SCIM connectors. See README.md beside this file.
 * https://docs.aws.amazon.com/singlesignon/latest/developerguide/what-is-scim.html
 */
const configSchema = z.strictObject({
  /** The SCIM endpoint shown in the Identity Center console, `https://scim.<region>.amazonaws.com/<id>/scim/v2`. */
  scimEndpoint: z.url(),
});
const credentialsSchema = z.strictObject({
  /** The SCIM access token generated in the Identity Center console (valid for one year). */
  accessToken: z.string().min(20).max(4000),
});

export const awsIdentityCenterConnector = createScimConnector({
  describe: {
    kind: 'aws_identity_center', displayName: 'AWS IAM Identity Center', vendor: 'Amazon Web Services',
    docsUrl: 'https://docs.aws.amazon.com/singlesignon/latest/developerguide/what-is-scim.html',
    // Identity Center throttles SCIM requests per instance; Portal stays at 5 a second and honours 429s.
    rateLimitPerSecond: 5,
  },
  configSchema,
  credentialsSchema,
  baseUrl: (config) => config.scimEndpoint.replace(/\/$/, ''),
  authHeaders: (ctx) => ({ authorization: `Bearer ${ctx.credentials.accessToken}` }),
  deletion: 'delete',
  // Identity Center's groups do not list their members; it answers `id eq … and members eq …` filters.
  // https://docs.aws.amazon.com/singlesignon/latest/developerguide/listgroups.html
  membershipCheck: 'filter',
  requestIdHeaders: ['x-amzn-requestid'],
});
