import { atlassianCloudConnector } from './atlassian-cloud';
import { awsIdentityCenterConnector } from './aws-identity-center';
import { githubEnterpriseConnector } from './github-enterprise';
import { googleWorkspaceConnector } from './google-workspace';
import { microsoft365Connector } from './microsoft365';
import { salesforceConnector } from './salesforce';
import { servicenowConnector } from './servicenow';
import { slackEnterpriseConnector } from './slack-enterprise';
import { zohoMailConnector } from './zoho-mail';
import type { ConnectorPlugin } from './types';

/**
 * Every connector plugin Portal ships, by kind. A connector instance (per tenant, configured through the
 * API) names one of these kinds; the worker runs a connectors task queue per kind.
 */
export const connectorPlugins: Readonly<Record<string, ConnectorPlugin>> = Object.freeze({
  github_enterprise: githubEnterpriseConnector as ConnectorPlugin,
  google_workspace: googleWorkspaceConnector as ConnectorPlugin,
  microsoft365: microsoft365Connector as ConnectorPlugin,
  slack_enterprise: slackEnterpriseConnector as ConnectorPlugin,
  aws_identity_center: awsIdentityCenterConnector as ConnectorPlugin,
  atlassian_cloud: atlassianCloudConnector as ConnectorPlugin,
  servicenow: servicenowConnector as ConnectorPlugin,
  salesforce: salesforceConnector as ConnectorPlugin,
  zoho_mail: zohoMailConnector as ConnectorPlugin,
});

/** The plugin for a kind, or null when Portal has none. */
export function connectorPlugin(kind: string): ConnectorPlugin | null {
  return Object.hasOwn(connectorPlugins, kind) ? connectorPlugins[kind]! : null;
}
