import { z } from 'zod';
import { ConnectorError, mustExist } from '../errors';
import { parseVendorBody, type VendorResponse } from '../http';
import type { AccountRecord, AccountSpec, ConnectorContext, ConnectorDescription, ConnectorPlugin, GroupRecord, OperationResult, Page } from '../types';

/**
 * A SCIM 2.0 service provider (RFC 7643 resources, RFC 7644 protocol) as a connector: the core that the
 * SCIM-speaking vendors share (Slack, AWS IAM Identity Center, Atlassian, Salesforce), with each vendor's
 * documented differences as a profile. https://datatracker.ietf.org/doc/html/rfc7644
 */
export interface ScimProfile<Config, Credentials> {
  describe: ConnectorDescription;
  configSchema: z.ZodType<Config>;
  credentialsSchema: z.ZodType<Credentials>;
  /** The service provider's base URL, up to and without `/Users`. */
  baseUrl(config: Config): string;
  /** Authorization headers (a bearer token, usually). */
  authHeaders(ctx: ConnectorContext<Config, Credentials>): Promise<Record<string, string>> | Record<string, string>;
  /** `delete`: DELETE removes the user. `deactivate`: the vendor never deletes; deleting deactivates. */
  deletion: 'delete' | 'deactivate';
  /**
   * How to learn whether a user is in a group: `group` reads the group (its `members`); `filter` asks
   * `GET /Groups?filter=id eq "<group>" and members eq "<user>"` (AWS, whose groups omit members).
   */
  membershipCheck: 'group' | 'filter';
  requestIdHeaders?: string[];
  /** Attributes every created user needs at this vendor (Salesforce: a profile entitlement). */
  createAttributes?(config: Config): Record<string, unknown>;
  /**
   * Assignments are the user's multi-valued `entitlements` (RFC 7643 §4.1.2), added and removed by PATCH
   * (Salesforce permission sets). Without it the connector has no assignments capability.
   */
  entitlements?: boolean;
}

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const PAGE_SIZE = 100;

const scimUser = z.object({
  id: z.string(),
  externalId: z.string().nullable().optional(),
  userName: z.string(),
  displayName: z.string().nullable().optional(),
  active: z.boolean().optional(),
  name: z.object({ givenName: z.string().nullable().optional(), familyName: z.string().nullable().optional() }).partial().nullable().optional(),
  emails: z.array(z.object({ value: z.string(), primary: z.boolean().optional() })).nullable().optional(),
  entitlements: z.array(z.object({ value: z.string() })).nullable().optional(),
});
type ScimUser = z.infer<typeof scimUser>;
const listOf = <T extends z.ZodType>(item: T) => z.object({ totalResults: z.number(), Resources: z.array(item).optional(), startIndex: z.number().optional(), itemsPerPage: z.number().optional() });
const scimGroup = z.object({ id: z.string(), displayName: z.string(), members: z.array(z.object({ value: z.string() })).nullable().optional() });

/** The SCIM `scimType` (or `status`) of an error body, for the shared classification. */
export function scimErrorCode(body: unknown): string | null {
  const b = body as { scimType?: unknown } | null;
  return typeof b?.scimType === 'string' ? b.scimType : null;
}

function toRecord(u: ScimUser): AccountRecord {
  return {
    id: u.id, userName: u.userName, displayName: u.displayName ?? null, givenName: u.name?.givenName ?? null, familyName: u.name?.familyName ?? null,
    email: u.emails?.find((e) => e.primary)?.value ?? u.emails?.[0]?.value ?? null, externalId: u.externalId ?? null, active: u.active !== false,
  };
}

const quote = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Builds a connector plugin from a vendor's SCIM profile. */
export function createScimConnector<Config, Credentials>(profile: ScimProfile<Config, Credentials>): ConnectorPlugin<Config, Credentials> {
  type Ctx = ConnectorContext<Config, Credentials>;
  const base = (ctx: Ctx) => profile.baseUrl(ctx.config);

  async function call(ctx: Ctx, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, json?: unknown): Promise<VendorResponse> {
    const headers = { ...(await profile.authHeaders(ctx)), accept: 'application/scim+json' };
    return ctx.http.request({ method, url: `${base(ctx)}${path}`, headers, ...(json === undefined ? {} : { json }) });
  }

  async function findUser(ctx: Ctx, userName: string): Promise<ScimUser | null> {
    // RFC 7644 §3.4.2.2: filtering, `userName eq "…"` (case-insensitive for userName).
    const res = await call(ctx, 'GET', `/Users?filter=${encodeURIComponent(`userName eq ${quote(userName)}`)}`);
    if (res.status !== 200) throw ctx.http.fail(res, 'find the user');
    return parseVendorBody(listOf(scimUser), res.body, 'find the user').Resources?.[0] ?? null;
  }
  const requireUser = async (ctx: Ctx, userName: string) => mustExist(await findUser(ctx, userName), `user ${userName}`);

  async function patchUser(ctx: Ctx, user: ScimUser, operations: { op: 'replace'; path: string; value: unknown }[]): Promise<OperationResult> {
    // RFC 7644 §3.5.2.3: replace, one operation per attribute path.
    const res = await call(ctx, 'PATCH', `/Users/${encodeURIComponent(user.id)}`, { schemas: [PATCH_OP], Operations: operations });
    if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no user ${user.userName}` });
    if (res.status !== 200 && res.status !== 204) throw ctx.http.fail(res, 'update the user');
    return { outcome: 'applied', externalId: user.id };
  }

  async function setActive(ctx: Ctx, userName: string, active: boolean): Promise<OperationResult> {
    const user = await requireUser(ctx, userName);
    if ((user.active !== false) === active) return { outcome: 'already_in_state', externalId: user.id };
    return patchUser(ctx, user, [{ op: 'replace', path: 'active', value: active }]);
  }

  async function isMember(ctx: Ctx, groupId: string, userId: string): Promise<boolean> {
    if (profile.membershipCheck === 'filter') {
      const filter = `id eq ${quote(groupId)} and members eq ${quote(userId)}`;
      const res = await call(ctx, 'GET', `/Groups?filter=${encodeURIComponent(filter)}`);
      if (res.status !== 200) throw ctx.http.fail(res, 'read the group membership');
      const found = parseVendorBody(listOf(scimGroup), res.body, 'read the group membership').totalResults > 0;
      if (!found) await requireGroup(ctx, groupId);
      return found;
    }
    const group = await requireGroup(ctx, groupId);
    return (group.members ?? []).some((m) => m.value === userId);
  }

  async function requireGroup(ctx: Ctx, groupId: string) {
    const res = await call(ctx, 'GET', `/Groups/${encodeURIComponent(groupId)}`);
    if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no group ${groupId}` });
    if (res.status !== 200) throw ctx.http.fail(res, 'read the group');
    return parseVendorBody(scimGroup, res.body, 'read the group');
  }

  async function changeMembership(ctx: Ctx, userName: string, groupId: string, add: boolean): Promise<OperationResult> {
    const user = await requireUser(ctx, userName);
    if ((await isMember(ctx, groupId, user.id)) === add) return { outcome: 'already_in_state', externalId: user.id };
    // RFC 7644 §3.5.2.1 / §3.5.2.2: add to, or remove from, the multi-valued `members`.
    const operation = add
      ? { op: 'add', path: 'members', value: [{ value: user.id }] }
      : { op: 'remove', path: `members[value eq ${quote(user.id)}]` };
    const res = await call(ctx, 'PATCH', `/Groups/${encodeURIComponent(groupId)}`, { schemas: [PATCH_OP], Operations: [operation] });
    if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no group ${groupId}` });
    if (res.status !== 200 && res.status !== 204) throw ctx.http.fail(res, add ? 'add the group member' : 'remove the group member');
    return { outcome: 'applied', externalId: user.id };
  }

  async function changeEntitlement(ctx: Ctx, userName: string, entitlement: string, add: boolean): Promise<OperationResult> {
    const user = await requireUser(ctx, userName);
    const has = (user.entitlements ?? []).some((e) => e.value === entitlement);
    if (has === add) return { outcome: 'already_in_state', externalId: user.id };
    const operation = add
      ? { op: 'add', path: 'entitlements', value: [{ value: entitlement }] }
      : { op: 'remove', path: `entitlements[value eq ${quote(entitlement)}]` };
    const res = await call(ctx, 'PATCH', `/Users/${encodeURIComponent(user.id)}`, { schemas: [PATCH_OP], Operations: [operation] });
    if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no user ${userName}` });
    if (res.status === 400 && scimErrorCode(res.body) === 'invalidValue') throw new ConnectorError({ kind: 'not_found', status: 400, vendorCode: 'invalidValue', message: `no entitlement ${entitlement}` });
    if (res.status !== 200 && res.status !== 204) throw ctx.http.fail(res, add ? 'add the entitlement' : 'remove the entitlement');
    return { outcome: 'applied', externalId: user.id };
  }

  const assignments = profile.entitlements
    ? {
      assign: (ctx: Ctx, userName: string, entitlement: string) => changeEntitlement(ctx, userName, entitlement, true),
      unassign: (ctx: Ctx, userName: string, entitlement: string) => changeEntitlement(ctx, userName, entitlement, false),
    }
    : {};

  return {
    ...assignments,
    describe: () => profile.describe,
    configSchema: profile.configSchema,
    credentialsSchema: profile.credentialsSchema,
    requestIdHeaders: profile.requestIdHeaders ?? ['x-request-id'],
    vendorErrorCode: scimErrorCode,

    async testConnection(ctx) {
      const res = await call(ctx, 'GET', '/Users?startIndex=1&count=1');
      if (res.status !== 200) throw ctx.http.fail(res, 'list users');
      parseVendorBody(listOf(scimUser), res.body, 'list users');
    },

    async getAccount(ctx, userName) {
      const user = await findUser(ctx, userName);
      return user ? toRecord(user) : null;
    },

    async createAccount(ctx, account: AccountSpec) {
      // RFC 7644 §3.3: creating a resource; 409 with scimType `uniqueness` when it exists.
      const res = await call(ctx, 'POST', '/Users', {
        schemas: [USER], userName: account.userName, externalId: account.externalId, displayName: account.displayName, active: account.active !== false,
        name: { givenName: account.givenName, familyName: account.familyName }, emails: [{ value: account.email, type: 'work', primary: true }],
        ...profile.createAttributes?.(ctx.config),
      });
      if (res.status === 409) throw new ConnectorError({ kind: 'conflict', status: 409, vendorCode: scimErrorCode(res.body), message: `${account.userName} exists` });
      if (res.status !== 201) throw ctx.http.fail(res, 'create the user');
      return { outcome: 'applied', externalId: parseVendorBody(scimUser, res.body, 'create the user').id };
    },

    async updateAccount(ctx, userName, changes) {
      const user = await requireUser(ctx, userName);
      const current = toRecord(user);
      const ops: { op: 'replace'; path: string; value: unknown }[] = [];
      if (changes.displayName !== undefined && changes.displayName !== current.displayName) ops.push({ op: 'replace', path: 'displayName', value: changes.displayName });
      if (changes.givenName !== undefined && changes.givenName !== current.givenName) ops.push({ op: 'replace', path: 'name.givenName', value: changes.givenName });
      if (changes.familyName !== undefined && changes.familyName !== current.familyName) ops.push({ op: 'replace', path: 'name.familyName', value: changes.familyName });
      if (changes.externalId !== undefined && changes.externalId !== current.externalId) ops.push({ op: 'replace', path: 'externalId', value: changes.externalId });
      if (changes.email !== undefined && changes.email.toLowerCase() !== (current.email ?? '').toLowerCase()) {
        ops.push({ op: 'replace', path: 'emails[type eq "work"].value', value: changes.email });
      }
      if (changes.active !== undefined && changes.active !== current.active) ops.push({ op: 'replace', path: 'active', value: changes.active });
      if (ops.length === 0) return { outcome: 'already_in_state', externalId: user.id };
      return patchUser(ctx, user, ops);
    },

    disableAccount: (ctx, userName) => setActive(ctx, userName, false),
    enableAccount: (ctx, userName) => setActive(ctx, userName, true),

    async deleteAccount(ctx, userName) {
      const user = await findUser(ctx, userName);
      if (!user) return { outcome: 'already_in_state' };
      if (profile.deletion === 'deactivate') {
        // The vendor keeps users for good: deleting is deactivating (see the connector's README).
        if (user.active === false) return { outcome: 'already_in_state', externalId: user.id, detail: { deactivatedInsteadOfDeleted: true } };
        const result = await patchUser(ctx, user, [{ op: 'replace', path: 'active', value: false }]);
        return { ...result, detail: { deactivatedInsteadOfDeleted: true } };
      }
      // RFC 7644 §3.6: deleting a resource.
      const res = await call(ctx, 'DELETE', `/Users/${encodeURIComponent(user.id)}`);
      if (res.status === 404) return { outcome: 'already_in_state' };
      if (res.status !== 204 && res.status !== 200) throw ctx.http.fail(res, 'delete the user');
      return { outcome: 'applied', externalId: user.id };
    },

    addToGroup: (ctx, userName, group) => changeMembership(ctx, userName, group, true),
    removeFromGroup: (ctx, userName, group) => changeMembership(ctx, userName, group, false),

    async listAccounts(ctx, pageToken): Promise<Page<AccountRecord>> {
      // RFC 7644 §3.4.2.4: pagination by startIndex (1-based) and count.
      const startIndex = pageToken ? Number(pageToken) : 1;
      const res = await call(ctx, 'GET', `/Users?startIndex=${startIndex}&count=${PAGE_SIZE}`);
      if (res.status !== 200) throw ctx.http.fail(res, 'list users');
      const page = parseVendorBody(listOf(scimUser), res.body, 'list users');
      const items = page.Resources ?? [];
      const next = (page.startIndex ?? startIndex) + items.length;
      return { items: items.map(toRecord), nextPageToken: items.length > 0 && next <= page.totalResults ? String(next) : null };
    },

    async listGroups(ctx, pageToken): Promise<Page<GroupRecord>> {
      const startIndex = pageToken ? Number(pageToken) : 1;
      const res = await call(ctx, 'GET', `/Groups?startIndex=${startIndex}&count=${PAGE_SIZE}&excludedAttributes=members`);
      if (res.status !== 200) throw ctx.http.fail(res, 'list groups');
      const page = parseVendorBody(listOf(scimGroup), res.body, 'list groups');
      const items = page.Resources ?? [];
      const next = (page.startIndex ?? startIndex) + items.length;
      return { items: items.map((g) => ({ id: g.id, displayName: g.displayName })), nextPageToken: items.length > 0 && next <= page.totalResults ? String(next) : null };
    },
  };
}
