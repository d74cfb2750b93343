import { describeConformance } from '../support/connector-conformance';
import { startAtlassianCloudFake } from '../fakes/scim-vendors';

describeConformance({ name: 'atlassian_cloud', start: (options) => startAtlassianCloudFake(options) });
