import { describeConformance } from '../support/connector-conformance';
import { startSlackEnterpriseFake } from '../fakes/scim-vendors';

describeConformance({ name: 'slack_enterprise', start: (options) => startSlackEnterpriseFake(options) });
