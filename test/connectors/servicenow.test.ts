import { describeConformance } from '../support/connector-conformance';
import { startServicenowFake } from '../fakes/servicenow';

describeConformance({ name: 'servicenow', start: (options) => startServicenowFake(options) });
