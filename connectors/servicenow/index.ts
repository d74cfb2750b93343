import { z } from 'zod';
import { ConnectorError, mustExist } from '../errors';
import { parseVendorBody, type VendorResponse } from '../http';
import type { AccountRecord, ConnectorContext, ConnectorPlugin, GroupRecord, OperationResult, Page } from '../types';

/**
 * ServiceNow through the Table API: users (`sys_user`), groups (`sys_user_group`), memberships
 * (`sys_user_grmember`) and roles (`sys_user_has_role`). See README.md beside this file.
 * https://docs.servicenow.com/bundle/washingtondc-api-reference/page/integrate/inbound-rest/concept/c_TableAPI.html
 */
const configSchema = z.strictObject({
  /** `https://<instance>.service-now.com`. */
  instanceUrl: z.url(),
});
const credentialsSchema = z.union([
  z.strictObject({ username: z.string().min(1).max(100), password: z.string().min(8).max(500) }),
  z.strictObject({ accessToken: z.string().min(20).max(4000) }),
]);
type Config = z.infer<typeof configSchema>;
type Credentials = z.infer<typeof credentialsSchema>;
type Ctx = ConnectorContext<Config, Credentials>;

const PAGE_SIZE = 100;
const USER_FIELDS = 'sys_id,user_name,first_name,last_name,email,active,employee_number';
// The Table API returns every field as a string ("true", not true).
const user = z.object({
  sys_id: z.string(), user_name: z.string(), first_name: z.string().optional(), last_name: z.string().optional(), email: z.string().optional(),
  active: z.string().optional(), employee_number: z.string().optional(),
});
type User = z.infer<typeof user>;
const results = <T extends z.ZodType>(item: T) => z.object({ result: z.array(item) });
const one = <T extends z.ZodType>(item: T) => z.object({ result: item });
const record = z.object({ sys_id: z.string() });

function authorization(ctx: Ctx): string {
  return 'accessToken' in ctx.credentials
    ? `Bearer ${ctx.credentials.accessToken}`
    : `Basic ${Buffer.from(`${ctx.credentials.username}:${ctx.credentials.password}`).toString('base64')}`;
}

async function call(ctx: Ctx, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', pathOrUrl: string, json?: unknown): Promise<VendorResponse> {
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${ctx.config.instanceUrl}/api/now/table${pathOrUrl}`;
  return ctx.http.request({ method, url, headers: { authorization: authorization(ctx) }, ...(json === undefined ? {} : { json }) });
}

const q = (query: string) => encodeURIComponent(query);

function toRecord(u: User): AccountRecord {
  return {
    id: u.sys_id, userName: u.user_name, displayName: [u.first_name, u.last_name].filter(Boolean).join(' ') || null, givenName: u.first_name || null,
    familyName: u.last_name || null, email: u.email || null, externalId: u.employee_number || null, active: u.active !== 'false',
  };
}

async function findUser(ctx: Ctx, userName: string): Promise<User | null> {
  // https://docs.servicenow.com/.../c_TableAPI.html#title_table-GET : sysparm_query on user_name
  const res = await call(ctx, 'GET', `/sys_user?sysparm_query=${q(`user_name=${userName}`)}&sysparm_limit=1&sysparm_fields=${USER_FIELDS}`);
  if (res.status !== 200) throw ctx.http.fail(res, 'find the user');
  return parseVendorBody(results(user), res.body, 'find the user').result[0] ?? null;
}
const requireUser = async (ctx: Ctx, userName: string) => mustExist(await findUser(ctx, userName), `user ${userName}`);

async function patchUser(ctx: Ctx, u: User, fields: Record<string, string>): Promise<OperationResult> {
  // https://docs.servicenow.com/.../c_TableAPI.html#title_table-PATCH
  const res = await call(ctx, 'PATCH', `/sys_user/${u.sys_id}`, fields);
  if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no user ${u.user_name}` });
  if (res.status !== 200) throw ctx.http.fail(res, 'update the user');
  return { outcome: 'applied', externalId: u.sys_id };
}

async function setActive(ctx: Ctx, userName: string, active: boolean): Promise<OperationResult> {
  const u = await requireUser(ctx, userName);
  if ((u.active !== 'false') === active) return { outcome: 'already_in_state', externalId: u.sys_id };
  return patchUser(ctx, u, { active: String(active) });
}

async function requireRecord(ctx: Ctx, table: 'sys_user_group' | 'sys_user_role', sysId: string, what: string): Promise<void> {
  const res = await call(ctx, 'GET', `/${table}/${encodeURIComponent(sysId)}?sysparm_fields=sys_id`);
  if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no ${what} ${sysId}` });
  if (res.status !== 200) throw ctx.http.fail(res, `read the ${what}`);
}

/** A membership-like record (`sys_user_grmember` or `sys_user_has_role`): find, create or delete it. */
async function changeLink(ctx: Ctx, table: 'sys_user_grmember' | 'sys_user_has_role', userName: string, field: 'group' | 'role', target: string, add: boolean): Promise<OperationResult> {
  const u = await requireUser(ctx, userName);
  await requireRecord(ctx, field === 'group' ? 'sys_user_group' : 'sys_user_role', target, field);
  const extra = table === 'sys_user_has_role' ? '^inherited=false' : '';
  const found = await call(ctx, 'GET', `/${table}?sysparm_query=${q(`user=${u.sys_id}^${field}=${target}${extra}`)}&sysparm_fields=sys_id&sysparm_limit=1`);
  if (found.status !== 200) throw ctx.http.fail(found, `read the ${field} link`);
  const existing = parseVendorBody(results(record), found.body, `read the ${field} link`).result[0];
  if (add === Boolean(existing)) return { outcome: 'already_in_state', externalId: u.sys_id };
  const res = add
    ? await call(ctx, 'POST', `/${table}`, { user: u.sys_id, [field]: target })
    : await call(ctx, 'DELETE', `/${table}/${existing!.sys_id}`);
  if (!add && res.status === 404) return { outcome: 'already_in_state', externalId: u.sys_id };
  if (res.status !== (add ? 201 : 204)) throw ctx.http.fail(res, add ? `add the ${field}` : `remove the ${field}`);
  return { outcome: 'applied', externalId: u.sys_id };
}

/** The next page's URL from ServiceNow's `Link` header (rel="next"), or null. */
function nextLink(headers: Headers): string | null {
  for (const part of (headers.get('link') ?? '').split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="next"/.exec(part.trim());
    if (m) return m[1]!;
  }
  return null;
}

export const servicenowConnector: ConnectorPlugin<Config, Credentials> = {
  describe: () => ({
    kind: 'servicenow', displayName: 'ServiceNow', vendor: 'ServiceNow',
    docsUrl: 'https://docs.servicenow.com/bundle/washingtondc-api-reference/page/integrate/inbound-rest/concept/c_TableAPI.html',
    // Instances enforce rate-limit rules per user (often a few thousand an hour): Portal stays at 5 a second.
    rateLimitPerSecond: 5,
  }),
  configSchema,
  credentialsSchema,
  requestIdHeaders: ['x-transaction-id'],
  vendorErrorCode: (body) => {
    const message = (body as { error?: { message?: unknown } } | null)?.error?.message;
    return typeof message === 'string' ? message : null;
  },

  async testConnection(ctx) {
    const res = await call(ctx, 'GET', '/sys_user?sysparm_limit=1&sysparm_fields=sys_id');
    if (res.status !== 200) throw ctx.http.fail(res, 'read sys_user');
  },

  async getAccount(ctx, userName) {
    const u = await findUser(ctx, userName);
    return u ? toRecord(u) : null;
  },

  async createAccount(ctx, account) {
    // user_name is unique in sys_user; the Table API reports a violation only as a generic insert failure, so
    // the connector looks first and reports an existing user as a conflict for the framework to resolve.
    if (await findUser(ctx, account.userName)) throw new ConnectorError({ kind: 'conflict', status: 409, message: `${account.userName} exists` });
    // https://docs.servicenow.com/.../c_TableAPI.html#title_table-POST
    const res = await call(ctx, 'POST', '/sys_user', {
      user_name: account.userName, first_name: account.givenName, last_name: account.familyName, email: account.email,
      employee_number: account.externalId, active: String(account.active !== false),
    });
    if (res.status !== 201) throw ctx.http.fail(res, 'create the user');
    return { outcome: 'applied', externalId: parseVendorBody(one(user), res.body, 'create the user').result.sys_id };
  },

  async updateAccount(ctx, userName, changes) {
    const u = await requireUser(ctx, userName);
    const current = toRecord(u);
    const fields: Record<string, string> = {};
    if (changes.givenName !== undefined && changes.givenName !== current.givenName) fields.first_name = changes.givenName;
    if (changes.familyName !== undefined && changes.familyName !== current.familyName) fields.last_name = changes.familyName;
    // ServiceNow derives the display name from first and last names.
    if (changes.displayName !== undefined && changes.displayName !== current.displayName) {
      const [given, ...rest] = changes.displayName.split(/\s+/);
      fields.first_name ??= given ?? changes.displayName;
      fields.last_name ??= rest.join(' ');
    }
    if (changes.email !== undefined && changes.email.toLowerCase() !== (current.email ?? '').toLowerCase()) fields.email = changes.email;
    if (changes.externalId !== undefined && changes.externalId !== current.externalId) fields.employee_number = changes.externalId;
    if (changes.active !== undefined && changes.active !== current.active) fields.active = String(changes.active);
    if (Object.keys(fields).length === 0) return { outcome: 'already_in_state', externalId: u.sys_id };
    return patchUser(ctx, u, fields);
  },

  disableAccount: (ctx, userName) => setActive(ctx, userName, false),
  enableAccount: (ctx, userName) => setActive(ctx, userName, true),

  async deleteAccount(ctx, userName) {
    const u = await findUser(ctx, userName);
    if (!u) return { outcome: 'already_in_state' };
    // https://docs.servicenow.com/.../c_TableAPI.html#title_table-DELETE
    const res = await call(ctx, 'DELETE', `/sys_user/${u.sys_id}`);
    if (res.status === 404) return { outcome: 'already_in_state' };
    if (res.status !== 204) throw ctx.http.fail(res, 'delete the user');
    return { outcome: 'applied', externalId: u.sys_id };
  },

  addToGroup: (ctx, userName, group) => changeLink(ctx, 'sys_user_grmember', userName, 'group', group, true),
  removeFromGroup: (ctx, userName, group) => changeLink(ctx, 'sys_user_grmember', userName, 'group', group, false),
  assign: (ctx, userName, role) => changeLink(ctx, 'sys_user_has_role', userName, 'role', role, true),
  unassign: (ctx, userName, role) => changeLink(ctx, 'sys_user_has_role', userName, 'role', role, false),

  async listAccounts(ctx, pageToken): Promise<Page<AccountRecord>> {
    // sysparm_limit / sysparm_offset, with the next page in the `Link` header.
    const url = pageToken ?? `/sys_user?sysparm_limit=${PAGE_SIZE}&sysparm_offset=0&sysparm_fields=${USER_FIELDS}`;
    if (pageToken && !pageToken.startsWith(`${ctx.config.instanceUrl}/`)) throw new ConnectorError({ kind: 'invalid', message: 'page token is not an instance URL' });
    const res = await call(ctx, 'GET', url);
    if (res.status !== 200) throw ctx.http.fail(res, 'list users');
    return { items: parseVendorBody(results(user), res.body, 'list users').result.map(toRecord), nextPageToken: nextLink(res.headers) };
  },

  async listGroups(ctx, pageToken): Promise<Page<GroupRecord>> {
    const url = pageToken ?? `/sys_user_group?sysparm_limit=${PAGE_SIZE}&sysparm_offset=0&sysparm_fields=sys_id,name`;
    if (pageToken && !pageToken.startsWith(`${ctx.config.instanceUrl}/`)) throw new ConnectorError({ kind: 'invalid', message: 'page token is not an instance URL' });
    const res = await call(ctx, 'GET', url);
    if (res.status !== 200) throw ctx.http.fail(res, 'list groups');
    const groups = parseVendorBody(results(z.object({ sys_id: z.string(), name: z.string() })), res.body, 'list groups').result;
    return { items: groups.map((g) => ({ id: g.sys_id, displayName: g.name })), nextPageToken: nextLink(res.headers) };
  },
};
