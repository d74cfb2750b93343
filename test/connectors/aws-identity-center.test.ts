import { describeConformance } from '../support/connector-conformance';
import { startAwsIdentityCenterFake } from '../fakes/scim-vendors';

describeConformance({ name: 'aws_identity_center', start: (options) => startAwsIdentityCenterFake(options) });
