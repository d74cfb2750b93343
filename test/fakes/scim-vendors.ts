/**
 * The SCIM vendors' fakes: the shared SCIM service provider with each vendor's documented differences.
 */
import { randomUUID } from 'node:crypto';
import { atlassianCloudConnector } from '../../connectors/atlassian-cloud';
import { awsIdentityCenterConnector } from '../../connectors/aws-identity-center';
import { salesforceConnector } from '../../connectors/salesforce';
import { slackEnterpriseConnector } from '../../connectors/slack-enterprise';
import type { ConnectorPlugin } from '../../connectors/types';
import type { FakeVendorOptions } from './fake-vendor';
import { startScimFake } from './scim-fake';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** Slack: SCIM v2 at /scim/v2, DELETE deactivates, x-slack-req-id. https://api.slack.com/admins/scim2 */
export const startSlackEnterpriseFake = (options: FakeVendorOptions = {}) => startScimFake({
  plugin: slackEnterpriseConnector as ConnectorPlugin, prefix: '/scim/v2', deletion: 'deactivate', groupsIncludeMembers: true, groupMemberFilter: false,
  errorBody: (status, scimType, detail) => ({ schemas: [ERROR], status: String(status), detail, ...(scimType ? { scimType } : {}) }),
  requestIdHeader: 'x-slack-req-id',
  config: (url) => ({ baseUrl: `${url}/scim/v2` }),
  credentials: (token) => ({ token }),
}, options);

/**
 * AWS IAM Identity Center: /{tenant}/scim/v2, groups without members, `members eq` filters, at most 100
 * members per PATCH, x-amzn-RequestId. https://docs.aws.amazon.com/singlesignon/latest/developerguide/what-is-scim.html
 */
export function startAwsIdentityCenterFake(options: FakeVendorOptions = {}) {
  const tenant = randomUUID();
  return startScimFake({
    plugin: awsIdentityCenterConnector as ConnectorPlugin, prefix: `/${tenant}/scim/v2`, deletion: 'delete', groupsIncludeMembers: false, groupMemberFilter: true, maxMembersPerPatch: 100,
    errorBody: (status, scimType, detail) => ({ schemas: [ERROR], status: String(status), detail, ...(scimType ? { scimType } : {}), exceptionRequestId: randomUUID(), timeStamp: new Date().toISOString() }),
    requestIdHeader: 'x-amzn-requestid',
    config: (url) => ({ scimEndpoint: `${url}/${tenant}/scim/v2` }),
    credentials: (token) => ({ accessToken: token }),
  }, options);
}

/** Atlassian: /scim/directory/{directoryId}, DELETE deactivates. https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/ */
export function startAtlassianCloudFake(options: FakeVendorOptions = {}) {
  const directory = randomUUID();
  return startScimFake({
    plugin: atlassianCloudConnector as ConnectorPlugin, prefix: `/scim/directory/${directory}`, deletion: 'deactivate', groupsIncludeMembers: true, groupMemberFilter: false,
    errorBody: (status, scimType, detail) => ({ schemas: [ERROR], status: String(status), detail, ...(scimType ? { scimType } : {}) }),
    requestIdHeader: 'atl-traceid',
    config: (url) => ({ directoryId: directory, apiBaseUrl: url }),
    credentials: (token) => ({ apiKey: token }),
  }, options);
}

/**
 * Salesforce: /services/scim/v2, users deactivated never deleted, a profile entitlement required on create,
 * permission sets as entitlements. https://help.salesforce.com/s/articleView?id=sf.identity_scim_overview.htm
 */
export function startSalesforceFake(options: FakeVendorOptions = {}) {
  const profileId = '00e5g000001AbCdEAB';
  const permissionSet = '0PS5g000000XyZwGAA';
  return startScimFake({
    plugin: salesforceConnector as ConnectorPlugin, prefix: '/services/scim/v2', deletion: 'deactivate', groupsIncludeMembers: true, groupMemberFilter: false,
    entitlements: { available: [profileId, permissionSet], requiredOnCreate: profileId },
    errorBody: (status, scimType, detail) => ({ schemas: [ERROR], status: String(status), detail, ...(scimType ? { scimType } : {}) }),
    requestIdHeader: 'x-request-id',
    config: (url) => ({ instanceUrl: url, profileId }),
    credentials: (token) => ({ accessToken: token }),
  }, options);
}
