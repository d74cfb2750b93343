import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConnectorError, mustExist } from '../errors';
import { parseVendorBody, type VendorResponse } from '../http';
import { oauthAccessToken } from '../oauth';
import { isRecentSameNamedCreate } from '../operations';
import type { AccountRecord, AccountSpec, ConnectorContext, ConnectorPlugin, GroupRecord, OperationResult, Page } from '../types';

/**
 * Microsoft 365 through Microsoft Graph v1.0: users, group members and licence assignment, as an
 * application with OAuth 2.0 client credentials. See README.md beside this file.
 */

const configSchema = z.strictObject({
  /** The Entra tenant (directory) id or a verified domain. */
  tenantId: z.string().min(1).max(253),
  /** Required before a licence can be assigned; set on every user Portal creates (ISO 3166-1 alpha-2). */
  usageLocation: z.string().regex(/^[A-Z]{2}$/).default('US'),
  authorityHost: z.url().default('https://login.microsoftonline.com'),
  graphBaseUrl: z.url().default('https://graph.microsoft.com/v1.0'),
});
const credentialsSchema = z.strictObject({
  clientId: z.string().min(1).max(100),
  clientSecret: z.string().min(8).max(500),
});
type Config = z.infer<typeof configSchema>;
type Credentials = z.infer<typeof credentialsSchema>;
type Ctx = ConnectorContext<Config, Credentials>;

const SELECT = 'id,userPrincipalName,displayName,givenName,surname,mail,accountEnabled,createdDateTime,assignedLicenses';
const PAGE_SIZE = 999;
/** How recent an existing user must be for Portal to accept it as its own earlier create (see provesEarlierCreate). */
const EARLIER_CREATE_WINDOW_MS = 24 * 3600 * 1000;

const user = z.object({
  id: z.string(),
  userPrincipalName: z.string(),
  displayName: z.string().nullable().optional(),
  givenName: z.string().nullable().optional(),
  surname: z.string().nullable().optional(),
  mail: z.string().nullable().optional(),
  accountEnabled: z.boolean().nullable().optional(),
  createdDateTime: z.string().nullable().optional(),
  assignedLicenses: z.array(z.object({ skuId: z.string() })).optional(),
});
type User = z.infer<typeof user>;
const userPage = z.object({ value: z.array(user), '@odata.nextLink': z.string().optional() });
const groupPage = z.object({ value: z.array(z.object({ id: z.string(), displayName: z.string().nullable().optional() })), '@odata.nextLink': z.string().optional() });
const graphError = z.object({ error: z.object({ code: z.string(), message: z.string().optional() }) });

function errorOf(body: unknown): { code: string; message: string } | null {
  const parsed = graphError.safeParse(body);
  return parsed.success ? { code: parsed.data.error.code, message: parsed.data.error.message ?? '' } : null;
}

/** The app-only token (client credentials grant). */
function accessToken(ctx: Ctx): Promise<string> {
  // https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow#get-a-token
  return oauthAccessToken(ctx, {
    url: `${ctx.config.authorityHost}/${encodeURIComponent(ctx.config.tenantId)}/oauth2/v2.0/token`, what: 'get an access token',
    form: () => ({ client_id: ctx.credentials.clientId, client_secret: ctx.credentials.clientSecret, scope: 'https://graph.microsoft.com/.default', grant_type: 'client_credentials' }),
  });
}

async function call(ctx: Ctx, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', pathOrUrl: string, json?: unknown): Promise<VendorResponse> {
  const token = await accessToken(ctx);
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${ctx.config.graphBaseUrl}${pathOrUrl}`;
  return ctx.http.request({ method, url, headers: { authorization: `Bearer ${token}` }, ...(json === undefined ? {} : { json }) });
}

/**
 * A Graph user as an account. Graph holds no identifier of Portal's (`employeeId` is the organisation's own
 * number, at most 16 characters: Portal's person ids do not fit), so `externalId` is null and a create
 * conflict is resolved by provesEarlierCreate.
 */
function toRecord(u: User): AccountRecord {
  const created = u.createdDateTime ? new Date(u.createdDateTime) : null;
  return {
    id: u.id, userName: u.userPrincipalName, displayName: u.displayName ?? null, givenName: u.givenName ?? null, familyName: u.surname ?? null,
    email: u.mail ?? null, externalId: null, active: u.accountEnabled !== false, createdAt: created && !Number.isNaN(created.getTime()) ? created : null,
  };
}

async function getUser(ctx: Ctx, userName: string): Promise<User | null> {
  // https://learn.microsoft.com/en-us/graph/api/user-get?view=graph-rest-1.0
  const res = await call(ctx, 'GET', `/users/${encodeURIComponent(userName)}?$select=${SELECT}`);
  if (res.status === 404) return null;
  if (res.status !== 200) throw ctx.http.fail(res, 'read the user');
  return parseVendorBody(user, res.body, 'read the user');
}

const requireUser = async (ctx: Ctx, userName: string): Promise<User> => mustExist(await getUser(ctx, userName), `user ${userName}`);

async function patchUser(ctx: Ctx, u: User, body: Record<string, unknown>): Promise<OperationResult> {
  // https://learn.microsoft.com/en-us/graph/api/user-update?view=graph-rest-1.0
  const res = await call(ctx, 'PATCH', `/users/${u.id}`, body);
  if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no user ${u.userPrincipalName}` });
  if (res.status !== 204) throw ctx.http.fail(res, 'update the user');
  return { outcome: 'applied', externalId: u.id };
}

async function setEnabled(ctx: Ctx, userName: string, enabled: boolean): Promise<OperationResult> {
  const u = await requireUser(ctx, userName);
  if ((u.accountEnabled !== false) === enabled) return { outcome: 'already_in_state', externalId: u.id };
  return patchUser(ctx, u, { accountEnabled: enabled });
}

async function groupExists(ctx: Ctx, groupId: string): Promise<boolean> {
  // https://learn.microsoft.com/en-us/graph/api/group-get?view=graph-rest-1.0
  const res = await call(ctx, 'GET', `/groups/${encodeURIComponent(groupId)}?$select=id`);
  if (res.status === 404) return false;
  if (res.status !== 200) throw ctx.http.fail(res, 'read the group');
  return true;
}

async function changeLicence(ctx: Ctx, userName: string, skuId: string, add: boolean): Promise<OperationResult> {
  const u = await requireUser(ctx, userName);
  const has = (u.assignedLicenses ?? []).some((l) => l.skuId.toLowerCase() === skuId.toLowerCase());
  if (has === add) return { outcome: 'already_in_state', externalId: u.id };
  // https://learn.microsoft.com/en-us/graph/api/user-assignlicense?view=graph-rest-1.0
  const res = await call(ctx, 'POST', `/users/${u.id}/assignLicense`, add
    ? { addLicenses: [{ skuId, disabledPlans: [] }], removeLicenses: [] }
    : { addLicenses: [], removeLicenses: [skuId] });
  if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no user ${userName}` });
  if (res.status === 400 && /License.*(not|doesn't) exist|invalid.*skuId/i.test(errorOf(res.body)?.message ?? '')) {
    throw new ConnectorError({ kind: 'not_found', status: 400, vendorCode: 'Request_BadRequest', message: `no licence ${skuId} in the tenant` });
  }
  if (res.status !== 200) throw ctx.http.fail(res, 'assign the licence');
  parseVendorBody(user, res.body, 'assign the licence');
  return { outcome: 'applied', externalId: u.id };
}

export const microsoft365Connector: ConnectorPlugin<Config, Credentials> = {
  describe: () => ({
    kind: 'microsoft365', displayName: 'Microsoft 365 (Entra ID)', vendor: 'Microsoft',
    docsUrl: 'https://learn.microsoft.com/en-us/graph/api/resources/user?view=graph-rest-1.0',
    // Directory writes are throttled per tenant and app (a few thousand requests per 10 s for reads,
    // far fewer for writes): Portal stays at 5 a second.
    rateLimitPerSecond: 5,
  }),
  configSchema,
  credentialsSchema,
  requestIdHeaders: ['request-id', 'client-request-id'],
  vendorErrorCode: (body) => errorOf(body)?.code ?? null,

  /**
   * Graph keeps no identifier of Portal's on a user, so a user whose userPrincipalName a create finds taken
   * is adopted only when it is provably the one an earlier attempt of this create made: created within the
   * last day, with exactly the names Portal sends. Anything older or named otherwise is someone else's.
   */
  provesEarlierCreate: (existing, wanted, now) => isRecentSameNamedCreate(existing, wanted, now, EARLIER_CREATE_WINDOW_MS),

  async testConnection(ctx) {
    // https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0
    const res = await call(ctx, 'GET', '/users?$top=1&$select=id');
    if (res.status !== 200) throw ctx.http.fail(res, 'list users');
  },

  async getAccount(ctx, userName) {
    const found = await getUser(ctx, userName);
    return found ? toRecord(found) : null;
  },

  async createAccount(ctx, account: AccountSpec) {
    // https://learn.microsoft.com/en-us/graph/api/user-post-users?view=graph-rest-1.0
    const res = await call(ctx, 'POST', '/users', {
      accountEnabled: account.active !== false, displayName: account.displayName, givenName: account.givenName, surname: account.familyName,
      mailNickname: account.userName.split('@')[0]!.replace(/[^A-Za-z0-9._-]/g, '').slice(0, 64) || 'user',
      // No employeeId: it is the organisation's (at most 16 characters); Portal's id does not fit.
      userPrincipalName: account.userName, mail: account.email, usageLocation: ctx.config.usageLocation,
      // Sign-in is federated or passwordless; nobody learns this password.
      passwordProfile: { forceChangePasswordNextSignIn: true, password: `${randomBytes(18).toString('base64url')}aA1!` },
    });
    // Graph reports a taken userPrincipalName as 400 Request_BadRequest, not 409.
    const error = errorOf(res.body);
    if (res.status === 409 || (res.status === 400 && /same value for property userPrincipalName/i.test(error?.message ?? ''))) {
      throw new ConnectorError({ kind: 'conflict', status: res.status, vendorCode: error?.code ?? null, message: `${account.userName} exists` });
    }
    if (res.status !== 201) throw ctx.http.fail(res, 'create the user');
    return { outcome: 'applied', externalId: parseVendorBody(user, res.body, 'create the user').id };
  },

  async updateAccount(ctx, userName, changes) {
    const u = await requireUser(ctx, userName);
    const current = toRecord(u);
    const body: Record<string, unknown> = {};
    if (changes.displayName !== undefined && changes.displayName !== current.displayName) body.displayName = changes.displayName;
    if (changes.givenName !== undefined && changes.givenName !== current.givenName) body.givenName = changes.givenName;
    if (changes.familyName !== undefined && changes.familyName !== current.familyName) body.surname = changes.familyName;
    if (changes.email !== undefined && changes.email.toLowerCase() !== (current.email ?? '').toLowerCase()) body.mail = changes.email;
    if (changes.active !== undefined && changes.active !== current.active) body.accountEnabled = changes.active;
    if (Object.keys(body).length === 0) return { outcome: 'already_in_state', externalId: u.id };
    return patchUser(ctx, u, body);
  },

  disableAccount: (ctx, userName) => setEnabled(ctx, userName, false),
  enableAccount: (ctx, userName) => setEnabled(ctx, userName, true),

  async deleteAccount(ctx, userName) {
    const u = await getUser(ctx, userName);
    if (!u) return { outcome: 'already_in_state' };
    // https://learn.microsoft.com/en-us/graph/api/user-delete?view=graph-rest-1.0
    const res = await call(ctx, 'DELETE', `/users/${u.id}`);
    if (res.status === 404) return { outcome: 'already_in_state' };
    if (res.status !== 204) throw ctx.http.fail(res, 'delete the user');
    return { outcome: 'applied', externalId: u.id };
  },

  async addToGroup(ctx, userName, group) {
    const u = await requireUser(ctx, userName);
    // https://learn.microsoft.com/en-us/graph/api/group-post-members?view=graph-rest-1.0
    const res = await call(ctx, 'POST', `/groups/${encodeURIComponent(group)}/members/$ref`, { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${u.id}` });
    // Graph answers an existing member with 400 "One or more added object references already exist".
    if (res.status === 400 && /added object references already exist/i.test(errorOf(res.body)?.message ?? '')) return { outcome: 'already_in_state', externalId: u.id };
    if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no group ${group}` });
    if (res.status !== 204) throw ctx.http.fail(res, 'add the group member');
    return { outcome: 'applied', externalId: u.id };
  },

  async removeFromGroup(ctx, userName, group) {
    const u = await getUser(ctx, userName);
    if (!u) {
      if (!(await groupExists(ctx, group))) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no group ${group}` });
      return { outcome: 'already_in_state' };
    }
    // https://learn.microsoft.com/en-us/graph/api/group-delete-members?view=graph-rest-1.0
    const res = await call(ctx, 'DELETE', `/groups/${encodeURIComponent(group)}/members/${u.id}/$ref`);
    if (res.status === 404) {
      // 404 both for a missing group and for a user who is not a member.
      if (await groupExists(ctx, group)) return { outcome: 'already_in_state', externalId: u.id };
      throw new ConnectorError({ kind: 'not_found', status: 404, message: `no group ${group}` });
    }
    if (res.status !== 204) throw ctx.http.fail(res, 'remove the group member');
    return { outcome: 'applied', externalId: u.id };
  },

  assign: (ctx, userName, skuId) => changeLicence(ctx, userName, skuId, true),
  unassign: (ctx, userName, skuId) => changeLicence(ctx, userName, skuId, false),

  async listAccounts(ctx, pageToken): Promise<Page<AccountRecord>> {
    // https://learn.microsoft.com/en-us/graph/paging : follow @odata.nextLink as given.
    const url = pageToken ?? `/users?$top=${PAGE_SIZE}&$select=${SELECT}`;
    if (pageToken && !pageToken.startsWith(`${ctx.config.graphBaseUrl}/`)) throw new ConnectorError({ kind: 'invalid', message: 'page token is not a Graph URL' });
    const res = await call(ctx, 'GET', url);
    if (res.status !== 200) throw ctx.http.fail(res, 'list users');
    const page = parseVendorBody(userPage, res.body, 'list users');
    return { items: page.value.map(toRecord), nextPageToken: page['@odata.nextLink'] ?? null };
  },

  async listGroups(ctx, pageToken): Promise<Page<GroupRecord>> {
    // https://learn.microsoft.com/en-us/graph/api/group-list?view=graph-rest-1.0
    const url = pageToken ?? `/groups?$top=${PAGE_SIZE}&$select=id,displayName`;
    if (pageToken && !pageToken.startsWith(`${ctx.config.graphBaseUrl}/`)) throw new ConnectorError({ kind: 'invalid', message: 'page token is not a Graph URL' });
    const res = await call(ctx, 'GET', url);
    if (res.status !== 200) throw ctx.http.fail(res, 'list groups');
    const page = parseVendorBody(groupPage, res.body, 'list groups');
    return { items: page.value.map((g) => ({ id: g.id, displayName: g.displayName ?? g.id })), nextPageToken: page['@odata.nextLink'] ?? null };
  },
};
