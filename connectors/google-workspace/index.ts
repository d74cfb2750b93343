import { createPrivateKey, createSign, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConnectorError, mustExist } from '../errors';
import { parseVendorBody, type VendorResponse } from '../http';
import { oauthAccessToken } from '../oauth';
import type { AccountRecord, AccountSpec, ConnectorContext, ConnectorPlugin, GroupRecord, OperationResult, Page } from '../types';

/**
 * Google Workspace through the Admin SDK Directory API (users, group members), authenticated as a service
 * account with domain-wide delegation impersonating an administrator. See README.md beside this file.
 */

const configSchema = z.strictObject({
  /** The customer: `my_customer` (the administrator's own) or an id like `C01abc23d`. */
  customer: z.string().min(1).max(64).default('my_customer'),
  /** The primary domain, for display and checks. */
  domain: z.string().min(1).max(253),
  /** The administrator the service account acts as (domain-wide delegation needs a subject). */
  subject: z.email(),
  baseUrl: z.url().default('https://admin.googleapis.com'),
});
/**
 * Whether a key signs RS256 assertions: a PEM private key Node parses, of type RSA (Google's service-account
 * keys are). Checked when the connector is configured, so a key that cannot sign is a 400 naming the field
 * rather than an exception on the first call.
 */
function isRsaPrivateKey(pem: string): boolean {
  try {
    return createPrivateKey(pem).asymmetricKeyType === 'rsa';
  } catch {
    return false;
  }
}

/** The fields of a service-account key file that Portal keeps. */
const credentialsSchema = z.object({
  client_email: z.email(),
  private_key: z.string().min(100).max(10_000).refine(isRsaPrivateKey, 'not an RSA private key in PEM form (the private_key of a service-account key file)'),
  private_key_id: z.string().max(100).optional(),
  token_uri: z.url().default('https://oauth2.googleapis.com/token'),
}).strip();
type Config = z.infer<typeof configSchema>;
type Credentials = z.infer<typeof credentialsSchema>;
type Ctx = ConnectorContext<Config, Credentials>;

const SCOPES = [
  'https://www.googleapis.com/auth/admin.directory.user',
  'https://www.googleapis.com/auth/admin.directory.group',
  'https://www.googleapis.com/auth/admin.directory.group.member',
].join(' ');
const PAGE_SIZE = 500;

const user = z.object({
  id: z.string(),
  primaryEmail: z.string(),
  name: z.object({ givenName: z.string().optional(), familyName: z.string().optional(), fullName: z.string().optional() }).partial().optional(),
  suspended: z.boolean().optional(),
  externalIds: z.array(z.object({ value: z.string().optional(), type: z.string().optional() })).optional(),
});
type User = z.infer<typeof user>;
const users = z.object({ users: z.array(user).optional(), nextPageToken: z.string().optional() });
const groups = z.object({ groups: z.array(z.object({ id: z.string(), email: z.string(), name: z.string().optional() })).optional(), nextPageToken: z.string().optional() });
const errorBody = z.object({ error: z.object({ code: z.number().optional(), message: z.string().optional(), status: z.string().optional(), errors: z.array(z.object({ reason: z.string().optional() })).optional() }) });

const api = (ctx: Ctx) => `${ctx.config.baseUrl}/admin/directory/v1`;
const key = (value: string) => encodeURIComponent(value);

/** An RS256 JWT assertion for the token endpoint (RFC 7523), signed with the service account's key. */
function assertion(ctx: Ctx): string {
  const now = Math.floor(ctx.now().getTime() / 1000);
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const header = b64({ alg: 'RS256', typ: 'JWT', ...(ctx.credentials.private_key_id ? { kid: ctx.credentials.private_key_id } : {}) });
  const claims = b64({ iss: ctx.credentials.client_email, sub: ctx.config.subject, scope: SCOPES, aud: ctx.credentials.token_uri, iat: now, exp: now + 3600 });
  const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(ctx.credentials.private_key).toString('base64url');
  return `${header}.${claims}.${signature}`;
}

/** The service account's access token (RFC 7523 JWT bearer grant). */
function accessToken(ctx: Ctx): Promise<string> {
  // https://developers.google.com/identity/protocols/oauth2/service-account#httprest
  return oauthAccessToken(ctx, {
    url: ctx.credentials.token_uri, what: 'get an access token',
    form: () => ({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: assertion(ctx) }),
  });
}

async function call(ctx: Ctx, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, json?: unknown): Promise<VendorResponse> {
  const token = await accessToken(ctx);
  return ctx.http.request({ method, url: `${api(ctx)}${path}`, headers: { authorization: `Bearer ${token}` }, ...(json === undefined ? {} : { json }) });
}

function toRecord(u: User): AccountRecord {
  return {
    id: u.id, userName: u.primaryEmail, displayName: u.name?.fullName ?? null, givenName: u.name?.givenName ?? null, familyName: u.name?.familyName ?? null,
    email: u.primaryEmail, externalId: u.externalIds?.find((e) => e.type === 'organization')?.value ?? null, active: !u.suspended,
  };
}

async function getUser(ctx: Ctx, userName: string): Promise<User | null> {
  // https://developers.google.com/admin-sdk/directory/reference/rest/v1/users/get
  const res = await call(ctx, 'GET', `/users/${key(userName)}`);
  if (res.status === 404) return null;
  if (res.status !== 200) throw ctx.http.fail(res, 'read the user');
  return parseVendorBody(user, res.body, 'read the user');
}

const requireUser = async (ctx: Ctx, userName: string): Promise<User> => mustExist(await getUser(ctx, userName), `user ${userName}`);

async function patchUser(ctx: Ctx, u: User, body: Record<string, unknown>): Promise<OperationResult> {
  // https://developers.google.com/admin-sdk/directory/reference/rest/v1/users/patch
  const res = await call(ctx, 'PATCH', `/users/${key(u.id)}`, body);
  if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no user ${u.primaryEmail}` });
  if (res.status !== 200) throw ctx.http.fail(res, 'update the user');
  parseVendorBody(user, res.body, 'update the user');
  return { outcome: 'applied', externalId: u.id };
}

async function setSuspended(ctx: Ctx, userName: string, suspended: boolean): Promise<OperationResult> {
  const u = await requireUser(ctx, userName);
  if (Boolean(u.suspended) === suspended) return { outcome: 'already_in_state', externalId: u.id };
  return patchUser(ctx, u, { suspended });
}

async function groupExists(ctx: Ctx, group: string): Promise<boolean> {
  // https://developers.google.com/admin-sdk/directory/reference/rest/v1/groups/get
  const res = await call(ctx, 'GET', `/groups/${key(group)}`);
  if (res.status === 404) return false;
  if (res.status !== 200) throw ctx.http.fail(res, 'read the group');
  return true;
}

/** Google's reason for an error (`duplicate`, `notFound`, `rateLimitExceeded`...), when it gives one. */
function reasonOf(body: unknown): string | null {
  const parsed = errorBody.safeParse(body);
  if (!parsed.success) return null;
  return parsed.data.error.errors?.[0]?.reason ?? parsed.data.error.status ?? null;
}

export const googleWorkspaceConnector: ConnectorPlugin<Config, Credentials> = {
  describe: () => ({
    kind: 'google_workspace', displayName: 'Google Workspace', vendor: 'Google',
    docsUrl: 'https://developers.google.com/admin-sdk/directory/reference/rest',
    // The Directory API's default quota is 2,400 queries a minute per user (40/s); Portal stays at 10/s.
    rateLimitPerSecond: 10,
  }),
  configSchema,
  credentialsSchema,
  requestIdHeaders: ['x-goog-request-id', 'x-request-id'],
  vendorErrorCode: reasonOf,

  async testConnection(ctx) {
    // https://developers.google.com/admin-sdk/directory/reference/rest/v1/users/list
    const res = await call(ctx, 'GET', `/users?customer=${key(ctx.config.customer)}&maxResults=1`);
    if (res.status !== 200) throw ctx.http.fail(res, 'list users');
    parseVendorBody(users, res.body, 'list users');
  },

  async getAccount(ctx, userName) {
    const found = await getUser(ctx, userName);
    return found ? toRecord(found) : null;
  },

  async createAccount(ctx, account: AccountSpec) {
    // https://developers.google.com/admin-sdk/directory/reference/rest/v1/users/insert
    // Workspace requires a password: a random one nobody knows (sign-in is through the identity provider).
    const password = randomBytes(24).toString('base64url');
    const res = await call(ctx, 'POST', '/users', {
      primaryEmail: account.userName, name: { givenName: account.givenName, familyName: account.familyName }, password,
      externalIds: [{ value: account.externalId, type: 'organization' }], suspended: account.active === false,
    });
    if (res.status === 409) throw new ConnectorError({ kind: 'conflict', status: 409, vendorCode: reasonOf(res.body), message: `${account.userName} exists` });
    if (res.status !== 200) throw ctx.http.fail(res, 'create the user');
    return { outcome: 'applied', externalId: parseVendorBody(user, res.body, 'create the user').id };
  },

  async updateAccount(ctx, userName, changes) {
    const u = await requireUser(ctx, userName);
    const current = toRecord(u);
    const body: Record<string, unknown> = {};
    const name: Record<string, string> = {};
    if (changes.givenName !== undefined && changes.givenName !== current.givenName) name.givenName = changes.givenName;
    if (changes.familyName !== undefined && changes.familyName !== current.familyName) name.familyName = changes.familyName;
    // Workspace derives the full name from the given and family names: a display name is not stored apart.
    if (changes.displayName !== undefined && changes.displayName !== current.displayName) {
      const [given, ...rest] = changes.displayName.split(/\s+/);
      name.givenName ??= given ?? changes.displayName;
      name.familyName ??= rest.join(' ') || (current.familyName ?? changes.displayName);
    }
    if (Object.keys(name).length > 0) body.name = { givenName: current.givenName, familyName: current.familyName, ...name };
    if (changes.externalId !== undefined && changes.externalId !== current.externalId) body.externalIds = [{ value: changes.externalId, type: 'organization' }];
    if (changes.active !== undefined && changes.active !== current.active) body.suspended = !changes.active;
    if (Object.keys(body).length === 0) return { outcome: 'already_in_state', externalId: u.id };
    return patchUser(ctx, u, body);
  },

  disableAccount: (ctx, userName) => setSuspended(ctx, userName, true),
  enableAccount: (ctx, userName) => setSuspended(ctx, userName, false),

  async deleteAccount(ctx, userName) {
    // https://developers.google.com/admin-sdk/directory/reference/rest/v1/users/delete
    const res = await call(ctx, 'DELETE', `/users/${key(userName)}`);
    if (res.status === 404) return { outcome: 'already_in_state' };
    if (res.status !== 204 && res.status !== 200) throw ctx.http.fail(res, 'delete the user');
    return { outcome: 'applied' };
  },

  async addToGroup(ctx, userName, group) {
    // https://developers.google.com/admin-sdk/directory/reference/rest/v1/members/insert
    const res = await call(ctx, 'POST', `/groups/${key(group)}/members`, { email: userName, role: 'MEMBER' });
    if (res.status === 409) return { outcome: 'already_in_state' };
    if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no group ${group} or no user ${userName}` });
    if (res.status !== 200) throw ctx.http.fail(res, 'add the group member');
    return { outcome: 'applied' };
  },

  async removeFromGroup(ctx, userName, group) {
    // https://developers.google.com/admin-sdk/directory/reference/rest/v1/members/delete
    const res = await call(ctx, 'DELETE', `/groups/${key(group)}/members/${key(userName)}`);
    if (res.status === 404) {
      // Google answers 404 both for a missing group and for a member who is not in it.
      if (await groupExists(ctx, group)) return { outcome: 'already_in_state' };
      throw new ConnectorError({ kind: 'not_found', status: 404, message: `no group ${group}` });
    }
    if (res.status !== 204 && res.status !== 200) throw ctx.http.fail(res, 'remove the group member');
    return { outcome: 'applied' };
  },

  async listAccounts(ctx, pageToken): Promise<Page<AccountRecord>> {
    // https://developers.google.com/admin-sdk/directory/reference/rest/v1/users/list
    const res = await call(ctx, 'GET', `/users?customer=${key(ctx.config.customer)}&maxResults=${PAGE_SIZE}${pageToken ? `&pageToken=${key(pageToken)}` : ''}`);
    if (res.status !== 200) throw ctx.http.fail(res, 'list users');
    const page = parseVendorBody(users, res.body, 'list users');
    return { items: (page.users ?? []).map(toRecord), nextPageToken: page.nextPageToken ?? null };
  },

  async listGroups(ctx, pageToken): Promise<Page<GroupRecord>> {
    // https://developers.google.com/admin-sdk/directory/reference/rest/v1/groups/list
    const res = await call(ctx, 'GET', `/groups?customer=${key(ctx.config.customer)}&maxResults=200${pageToken ? `&pageToken=${key(pageToken)}` : ''}`);
    if (res.status !== 200) throw ctx.http.fail(res, 'list groups');
    const page = parseVendorBody(groups, res.body, 'list groups');
    return { items: (page.groups ?? []).map((g) => ({ id: g.email, displayName: g.name ?? g.email })), nextPageToken: page.nextPageToken ?? null };
  },
};
