/** The one barrel of workflows: the worker bundles this file and nothing else. */
export { accessRequest } from './access-request';
export { lifecycle } from './lifecycle';
export { personSetup } from './person-setup';
export { provisioningPlan } from './provisioning-plan';
