/** The one barrel of workflows: the worker bundles this file and nothing else. */
export { personSetup } from './person-setup';
