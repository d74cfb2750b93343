import { describeConformance } from '../support/connector-conformance';
import { startSalesforceFake } from '../fakes/scim-vendors';

describeConformance({ name: 'salesforce', start: (options) => startSalesforceFake(options) });
