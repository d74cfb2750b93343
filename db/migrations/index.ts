import type { Migration } from 'kysely/migration';
import * as coreModel from './20261124140000_core_model';
import * as accessRequests from './20261124150000_access_requests';
import * as identityProfiles from './20261124170000_identity_profiles';
import * as hrLifecycle from './20261124180000_hr_lifecycle';
import * as provisioningPlans from './20261124190000_provisioning_plans';
import * as lifecycleKickoffKeys from './20261125090000_lifecycle_kickoff_keys';
import * as accessRequestSubmissions from './20261130090000_access_request_submissions';
import * as planSubmissions from './20261130120000_plan_submissions';

/**
 * Every migration, by its timestamped name. Listed statically (not read from the directory) so the set is
 * the same under tsx, a bundler or compiled output. Append new migrations; never edit or reorder.
 */
export const migrations: Record<string, Migration> = {
  '20261124140000_core_model': coreModel,
  '20261124150000_access_requests': accessRequests,
  '20261124170000_identity_profiles': identityProfiles,
  '20261124180000_hr_lifecycle': hrLifecycle,
  '20261124190000_provisioning_plans': provisioningPlans,
  '20261125090000_lifecycle_kickoff_keys': lifecycleKickoffKeys,
  '20261130090000_access_request_submissions': accessRequestSubmissions,
  '20261130120000_plan_submissions': planSubmissions,
};
