import type { z } from 'zod';
import type { VendorHttp } from './http';

/**
 * The connector contract (after ConductorOne's baton-sdk): a small required core every plugin exports, plus
 * the capability interfaces it chooses to implement. What a connector can do is computed from what it
 * implements (see capabilities.ts), never declared separately, so the two cannot disagree.
 */

/** Portal's normalised account: what a plan asks a downstream system to hold for a person. */
export interface AccountSpec {
  /** The login the vendor keys the account on: UPN (Graph), primary email (Google), SCIM userName (GitHub). */
  userName: string;
  displayName: string;
  givenName: string;
  familyName: string;
  /** Work email; for vendors keyed by email this equals userName. */
  email: string;
  /** Portal's stable id for the person (SCIM externalId, Graph employeeId...): how a 409 is matched. */
  externalId: string;
  /** Defaults to true on create. */
  active?: boolean;
}

/** An account as read back from the vendor, normalised. */
export interface AccountRecord {
  /** The vendor's own id for the account. */
  id: string;
  userName: string;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  email: string | null;
  externalId: string | null;
  active: boolean;
  /** When the vendor created the account, where it says (used to prove an earlier attempt's create). */
  createdAt?: Date | null;
}

export interface GroupRecord {
  id: string;
  displayName: string;
}

export interface Page<T> {
  items: T[];
  /** Opaque; null on the last page. */
  nextPageToken: string | null;
}

/** How a mutating call ended when it did not throw. */
export type AppliedOutcome = 'applied' | 'already_in_state';

export interface OperationResult {
  outcome: AppliedOutcome;
  /** The vendor's id for the object acted on, when known (recorded in evidence). */
  externalId?: string | null;
  /** Non-secret facts worth keeping in evidence (e.g. `{ adopted: true }`). */
  detail?: Record<string, unknown>;
}

/** What a connector describes about itself. */
export interface ConnectorDescription {
  /** Stable kind, used in configuration and task-queue names: `microsoft365`, `google_workspace`, ... */
  kind: string;
  displayName: string;
  vendor: string;
  /** The vendor reference a reader should start from. */
  docsUrl: string;
  /**
   * The vendor's documented sustained rate for one tenant, which Portal stays under: the kind's queue, or
   * with PORTAL_CONNECTOR_RATE_LIMIT_SCOPE=instance each connector instance, is limited to it (steps per
   * second across all workers, enforced by the Temporal server).
   */
  rateLimitPerSecond: number;
}

/**
 * What every call receives: the parsed configuration and credentials of one connector instance, an HTTP
 * client that records each call for evidence, and a per-instance cache (tokens) that lives as long as the
 * worker process.
 */
export interface ConnectorContext<Config = unknown, Credentials = unknown> {
  config: Config;
  credentials: Credentials;
  http: VendorHttp;
  cache: Map<string, unknown>;
  now(): Date;
}

/** The required core. */
export interface ConnectorCore<Config = unknown, Credentials = unknown> {
  describe(): ConnectorDescription;
  /** Non-secret configuration (tenant/domain ids, base URLs). Strict: unknown keys are refused. */
  configSchema: z.ZodType<Config>;
  /** Secrets (client secret, service-account key, token). Stored encrypted, never returned. */
  credentialsSchema: z.ZodType<Credentials>;
  /** Proves the configuration and credentials work with one cheap read; throws a ConnectorError if not. */
  testConnection(ctx: ConnectorContext<Config, Credentials>): Promise<void>;
  /**
   * The vendor's error code from an error response body (Graph's `error.code`, Google's `error.status`,
   * SCIM's `scimType`), used by the shared classification. Optional.
   */
  vendorErrorCode?(body: unknown): string | null;
  /** Header names carrying the vendor's request id (`request-id`, `x-github-request-id`, ...). */
  requestIdHeaders?: string[];
  /**
   * For vendors that store no identifier of Portal's on an account (no externalId, employeeId or custom
   * field): whether an existing account met on a create conflict is provably the one an earlier attempt of
   * the same create made, so the framework adopts it instead of failing the step. Without this hook only an
   * equal externalId is adopted. It must refuse anything it cannot prove (an older or differently named
   * account belongs to someone else until an operator says otherwise).
   */
  provesEarlierCreate?(existing: AccountRecord, wanted: AccountSpec, now: Date): boolean;
}

/**
 * Account provisioning. Idempotent by contract: creating an account that exists must throw a ConnectorError
 * of kind `conflict` (the framework then reads it with getAccount and adopts it when its externalId matches);
 * disabling a disabled account, or deleting a missing one, returns `already_in_state`; updating or disabling
 * a missing account throws kind `not_found`.
 */
export interface AccountProvisioning<Config = unknown, Credentials = unknown> {
  getAccount(ctx: ConnectorContext<Config, Credentials>, userName: string): Promise<AccountRecord | null>;
  createAccount(ctx: ConnectorContext<Config, Credentials>, account: AccountSpec): Promise<OperationResult>;
  /** Changes only the named fields; `already_in_state` when they already hold those values. */
  updateAccount(ctx: ConnectorContext<Config, Credentials>, userName: string, changes: Partial<Omit<AccountSpec, 'userName'>>): Promise<OperationResult>;
  disableAccount(ctx: ConnectorContext<Config, Credentials>, userName: string): Promise<OperationResult>;
  enableAccount(ctx: ConnectorContext<Config, Credentials>, userName: string): Promise<OperationResult>;
  deleteAccount(ctx: ConnectorContext<Config, Credentials>, userName: string): Promise<OperationResult>;
}

/**
 * Group membership. `group` is the vendor's group reference as configured in Portal (Graph group id, Google
 * group email, GitHub `org/team-slug`). Adding a member who is in the group, or removing one who is not,
 * returns `already_in_state`; a missing group or account throws kind `not_found`.
 */
export interface GroupMembership<Config = unknown, Credentials = unknown> {
  addToGroup(ctx: ConnectorContext<Config, Credentials>, userName: string, group: string): Promise<OperationResult>;
  removeFromGroup(ctx: ConnectorContext<Config, Credentials>, userName: string, group: string): Promise<OperationResult>;
}

/**
 * Application or licence assignment (`assignment` is the vendor's reference: a Graph SKU id, a GitHub
 * organization...). Same idempotency rules as group membership.
 */
export interface Assignments<Config = unknown, Credentials = unknown> {
  assign(ctx: ConnectorContext<Config, Credentials>, userName: string, assignment: string): Promise<OperationResult>;
  unassign(ctx: ConnectorContext<Config, Credentials>, userName: string, assignment: string): Promise<OperationResult>;
}

/** Paged listing for reconciliation. Page tokens are the vendor's cursors, opaque to Portal. */
export interface Listing<Config = unknown, Credentials = unknown> {
  listAccounts(ctx: ConnectorContext<Config, Credentials>, pageToken: string | null): Promise<Page<AccountRecord>>;
  listGroups(ctx: ConnectorContext<Config, Credentials>, pageToken: string | null): Promise<Page<GroupRecord>>;
}

/** A connector plugin: the core plus any capability interfaces. */
export type ConnectorPlugin<Config = unknown, Credentials = unknown> = ConnectorCore<Config, Credentials>
  & Partial<AccountProvisioning<Config, Credentials>>
  & Partial<GroupMembership<Config, Credentials>>
  & Partial<Assignments<Config, Credentials>>
  & Partial<Listing<Config, Credentials>>;

/** Operations a plan step may name. `manual_task` is Portal-native only (a human or ticket calls back). */
export const StepOperations = [
  'create_account', 'update_account', 'enable_account', 'disable_account', 'delete_account',
  'add_to_group', 'remove_from_group', 'assign', 'unassign', 'manual_task',
] as const;
export type StepOperation = (typeof StepOperations)[number];
