import type { Kysely, Transaction } from 'kysely';
import type { AccessEdgesTable } from './tables/access-edges';
import type {
  AccessBundlesTable, AccessBundleVersionsTable, AccessRequestApproversTable, AccessRequestEventsTable, AccessRequestsTable,
} from './tables/access-requests';
import type { ApiTokensTable } from './tables/api-tokens';
import type { AppAssignmentsTable, ApplicationsTable } from './tables/applications';
import type { AuditEventsTable } from './tables/audit-events';
import type { GroupMembersTable, GroupsTable } from './tables/groups';
import type {
  HrEventsTable, HrHoldsTable, HrSettingsTable, LifecycleRunsTable, LifecycleTemplatesTable, OutboxMessagesTable, PersonExternalIdsTable,
} from './tables/hr-lifecycle';
import type { TenantMembershipsTable } from './tables/memberships';
import type { PeopleTable } from './tables/people';
import type {
  ProfileAttributeDefinitionsTable, ProfileAttributeHistoryTable, ProfileAttributeValuesTable, ProfileResolutionIssuesTable,
  ProfileSourcePrecedenceTable,
} from './tables/profiles';
import type {
  ConnectorInstancesTable, ProvisioningCallbackTokensTable, ProvisioningPlanStatusTable, ProvisioningPlanStepsTable, ProvisioningPlansTable,
  ProvisioningStepEvidenceTable,
} from './tables/provisioning';
import type { RolesTable } from './tables/roles';
import type { TenantsTable } from './tables/tenants';

/** The one description of Portal's schema that every query is typed against. */
export interface Database {
  tenants: TenantsTable;
  people: PeopleTable;
  tenant_memberships: TenantMembershipsTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  roles: RolesTable;
  applications: ApplicationsTable;
  app_assignments: AppAssignmentsTable;
  access_edges: AccessEdgesTable;
  audit_events: AuditEventsTable;
  api_tokens: ApiTokensTable;
  access_bundles: AccessBundlesTable;
  access_bundle_versions: AccessBundleVersionsTable;
  access_requests: AccessRequestsTable;
  access_request_approvers: AccessRequestApproversTable;
  access_request_events: AccessRequestEventsTable;
  person_external_ids: PersonExternalIdsTable;
  hr_settings: HrSettingsTable;
  hr_holds: HrHoldsTable;
  hr_events: HrEventsTable;
  lifecycle_templates: LifecycleTemplatesTable;
  lifecycle_runs: LifecycleRunsTable;
  outbox_messages: OutboxMessagesTable;
  profile_attribute_definitions: ProfileAttributeDefinitionsTable;
  profile_attribute_values: ProfileAttributeValuesTable;
  profile_attribute_history: ProfileAttributeHistoryTable;
  profile_source_precedence: ProfileSourcePrecedenceTable;
  profile_resolution_issues: ProfileResolutionIssuesTable;
  connector_instances: ConnectorInstancesTable;
  provisioning_plans: ProvisioningPlansTable;
  provisioning_plan_steps: ProvisioningPlanStepsTable;
  provisioning_step_evidence: ProvisioningStepEvidenceTable;
  provisioning_plan_status: ProvisioningPlanStatusTable;
  provisioning_callback_tokens: ProvisioningCallbackTokensTable;
}

export type Db = Kysely<Database>;
/** A database handle or an open transaction: repositories accept either. */
export type Executor = Kysely<Database> | Transaction<Database>;
