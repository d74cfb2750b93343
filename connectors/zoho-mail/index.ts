import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConnectorError, mustExist } from '../errors';
import { parseVendorBody, type VendorResponse } from '../http';
import { oauthAccessToken } from '../oauth';
import { isRecentSameNamedCreate } from '../operations';
import type { AccountRecord, ConnectorContext, ConnectorPlugin, GroupRecord, OperationResult, Page } from '../types';

/**
 * Zoho Mail through its organization REST API: user accounts (`/api/organization/{zoid}/accounts`) and group
 * membership (`/groups/{zgid}`), OAuth 2.0 with a refresh token. Zoho publishes no machine-readable API
 * description; every call below cites its reference page (https://www.zoho.com/mail/help/api/...). See
 * README.md beside this file.
 */
const configSchema = z.strictObject({
  /** The organization id (Admin Console > Organization, or GET /api/organization). */
  zoid: z.string().regex(/^\d{1,20}$/, 'the numeric organization id'),
  /** The data centre's Mail host: mail.zoho.com, .eu, .in, .com.au, .jp, .ca, .sa. */
  mailBaseUrl: z.url().default('https://mail.zoho.com'),
  /** The same data centre's accounts server, which issues tokens. */
  accountsUrl: z.url().default('https://accounts.zoho.com'),
});
const credentialsSchema = z.strictObject({
  clientId: z.string().min(1).max(200),
  clientSecret: z.string().min(8).max(500),
  /** A refresh token granted the scopes in README.md (self client or the admin's consent). */
  refreshToken: z.string().min(20).max(2000),
});
type Config = z.infer<typeof configSchema>;
type Credentials = z.infer<typeof credentialsSchema>;
type Ctx = ConnectorContext<Config, Credentials>;

const PAGE_SIZE = 50;
/** Zoho groups list at most 25 a page (get-all-group-details.html). */
const GROUP_PAGE_SIZE = 25;
/** How recent an existing account must be for Portal to accept it as its own earlier create (see provesEarlierCreate). */
const EARLIER_CREATE_WINDOW_MS = 24 * 3600 * 1000;

// Zoho's ids are 64-bit: some arrive as JSON numbers, accountId often as a string (it exceeds 2^53).
const id = z.union([z.string(), z.number()]).transform(String);
const emailAddress = z.object({ mailId: z.string(), isPrimary: z.boolean().optional() });
const user = z.object({
  zuid: id,
  accountId: id,
  primaryEmailAddress: z.string().optional(),
  mailboxAddress: z.string().optional(),
  emailAddress: z.array(emailAddress).optional(),
  firstName: z.string().nullish(),
  lastName: z.string().nullish(),
  displayName: z.string().nullish(),
  /** The user's state: false once disabled (put-to-disable-user.html). */
  status: z.boolean(),
  accountCreationTime: z.number().optional(),
});
type User = z.infer<typeof user>;
/** Every answer is `{status: {code, description}, data}` (response-codes.html). */
const envelope = <T extends z.ZodType>(data: T) => z.object({ status: z.object({ code: z.number(), description: z.string() }), data });
const member = z.object({ memberEmailId: z.string() });
const group = z.object({ zgid: id, name: z.string().optional(), emailId: z.string().optional(), mailGroupMemberList: z.array(member).optional() });

/** An access token from the refresh token (https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html). */
function accessToken(ctx: Ctx): Promise<string> {
  return oauthAccessToken(ctx, {
    url: `${ctx.config.accountsUrl}/oauth/v2/token`, what: 'get an access token',
    form: () => ({ grant_type: 'refresh_token', client_id: ctx.credentials.clientId, client_secret: ctx.credentials.clientSecret, refresh_token: ctx.credentials.refreshToken }),
  });
}

async function call(ctx: Ctx, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, json?: unknown): Promise<VendorResponse> {
  const token = await accessToken(ctx);
  return ctx.http.request({
    method, url: `${ctx.config.mailBaseUrl}/api/organization/${ctx.config.zoid}${path}`,
    headers: { authorization: `Zoho-oauthtoken ${token}` }, ...(json === undefined ? {} : { json }),
  });
}

const ok = (res: VendorResponse) => res.status === 200 || res.status === 201;

/** Zoho's error code: `data.errorCode` of the envelope. */
function zohoErrorCode(body: unknown): string | null {
  const code = (body as { data?: { errorCode?: unknown } } | null)?.data?.errorCode;
  return typeof code === 'string' ? code : null;
}

function primaryEmail(u: User): string {
  return u.primaryEmailAddress ?? u.mailboxAddress ?? u.emailAddress?.find((e) => e.isPrimary)?.mailId ?? u.emailAddress?.[0]?.mailId ?? '';
}

function toRecord(u: User): AccountRecord {
  const email = primaryEmail(u);
  return {
    id: u.zuid, userName: email, displayName: u.displayName || null, givenName: u.firstName || null, familyName: u.lastName || null,
    email: email || null, externalId: null, active: u.status,
    createdAt: u.accountCreationTime === undefined ? null : new Date(u.accountCreationTime),
  };
}

async function findUser(ctx: Ctx, userName: string): Promise<User | null> {
  // GET /api/organization/{zoid}/accounts/{emailAddress} (get-single-user.html); 404 is "the requested
  // resource could not be found" (response-codes.html).
  // The address goes in the path as the reference shows it (`@` unescaped).
  const res = await call(ctx, 'GET', `/accounts/${encodeURIComponent(userName).replace(/%40/g, '@')}`);
  if (res.status === 404) return null;
  if (res.status !== 200) throw ctx.http.fail(res, 'read the user');
  return parseVendorBody(envelope(user), res.body, 'read the user').data;
}
const requireUser = async (ctx: Ctx, userName: string) => mustExist(await findUser(ctx, userName), `user ${userName}`);

/** PUT /api/organization/{zoid}/accounts/{accountId} with a `mode` (enable / disable user, update personal info). */
async function putAccount(ctx: Ctx, u: User, body: Record<string, unknown>, what: string): Promise<OperationResult> {
  const res = await call(ctx, 'PUT', `/accounts/${u.accountId}`, { zuid: Number(u.zuid), ...body });
  if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no user ${primaryEmail(u)}` });
  if (!ok(res)) throw ctx.http.fail(res, what);
  return { outcome: 'applied', externalId: u.zuid };
}

async function setActive(ctx: Ctx, userName: string, active: boolean): Promise<OperationResult> {
  const u = await requireUser(ctx, userName);
  if (u.status === active) return { outcome: 'already_in_state', externalId: u.zuid };
  // put-to-enable-user.html (unblockIncoming is required) / put-to-disable-user.html
  return putAccount(ctx, u, active ? { mode: 'enableUser', unblockIncoming: true } : { mode: 'disableUser' }, active ? 'enable the user' : 'disable the user');
}

async function readGroup(ctx: Ctx, zgid: string): Promise<z.infer<typeof group>> {
  if (!/^\d{1,20}$/.test(zgid)) throw new ConnectorError({ kind: 'not_found', message: `no group ${zgid} (a Zoho group is named by its numeric zgid)` });
  // GET /api/organization/{zoid}/groups/{zgid} (get-single-group-details.html)
  const res = await call(ctx, 'GET', `/groups/${zgid}`);
  if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no group ${zgid}` });
  if (res.status !== 200) throw ctx.http.fail(res, 'read the group');
  return parseVendorBody(envelope(group), res.body, 'read the group').data;
}

async function changeMembership(ctx: Ctx, userName: string, zgid: string, add: boolean): Promise<OperationResult> {
  const u = await requireUser(ctx, userName);
  const email = primaryEmail(u).toLowerCase();
  const g = await readGroup(ctx, zgid);
  const isMember = (g.mailGroupMemberList ?? []).some((m) => m.memberEmailId.toLowerCase() === email);
  if (isMember === add) return { outcome: 'already_in_state', externalId: u.zuid };
  // PUT /api/organization/{zoid}/groups/{zgid}: group-add-member.html / delete-group-members.html
  const res = await call(ctx, 'PUT', `/groups/${zgid}`, add
    ? { mode: 'addMailGroupMember', mailGroupMemberList: [{ memberEmailId: primaryEmail(u), role: 'member' }] }
    : { mode: 'deleteMailGroupMember', mailGroupMemberList: [{ memberEmailId: primaryEmail(u) }] });
  if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no group ${zgid}` });
  if (!ok(res)) throw ctx.http.fail(res, add ? 'add the group member' : 'remove the group member');
  return { outcome: 'applied', externalId: u.zuid };
}

/**
 * The `start` a page token carries. Zoho pages by start/limit and says nothing of a next page, and may return
 * fewer than `limit`: listing goes on from start + what came back until a page comes back empty.
 */
function pageToken(pageToken: string | null, first: number): number {
  if (pageToken === null) return first;
  if (!/^\d{1,9}$/.test(pageToken)) throw new ConnectorError({ kind: 'invalid', message: 'page token is not a Zoho start index' });
  return Number(pageToken);
}

export const zohoMailConnector: ConnectorPlugin<Config, Credentials> = {
  describe: () => ({
    kind: 'zoho_mail', displayName: 'Zoho Mail', vendor: 'Zoho',
    docsUrl: 'https://www.zoho.com/mail/help/api/users-api.html',
    // Zoho throttles per user and organization without publishing Mail's numbers; Portal stays at 5 a second.
    rateLimitPerSecond: 5,
  }),
  configSchema,
  credentialsSchema,
  vendorErrorCode: zohoErrorCode,

  async testConnection(ctx) {
    // GET /api/organization/{zoid}/accounts?start=0&limit=1 (get-org-users-details.html)
    const res = await call(ctx, 'GET', '/accounts?start=0&limit=1');
    if (res.status !== 200) throw ctx.http.fail(res, 'list users');
  },

  /**
   * Zoho Mail keeps no identifier of Portal's on a user, so a mailbox that exists when Portal creates one is
   * adopted only when it is provably the one an earlier attempt of this create made: created within the
   * last day, with exactly the names Portal sends. Anything older or named otherwise is someone else's.
   */
  provesEarlierCreate: (existing, wanted, now) => isRecentSameNamedCreate(existing, wanted, now, EARLIER_CREATE_WINDOW_MS),

  async getAccount(ctx, userName) {
    const u = await findUser(ctx, userName);
    return u ? toRecord(u) : null;
  },

  async createAccount(ctx, account) {
    // POST /api/organization/{zoid}/accounts (post-add-user-to-org.html). The password is random and never
    // kept: people sign in through the organization's identity provider.
    const res = await call(ctx, 'POST', '/accounts', {
      primaryEmailAddress: account.userName, password: `${randomBytes(18).toString('base64url')}aA1!`, oneTimePassword: true,
      firstName: account.givenName, lastName: account.familyName, displayName: account.displayName, role: 'member',
    });
    if (!ok(res)) {
      // Zoho does not document how it refuses a taken address: any other client error is checked against
      // the directory, and an existing mailbox is a conflict for the framework to resolve.
      if (res.status >= 400 && res.status < 500 && ![401, 403, 429].includes(res.status) && await findUser(ctx, account.userName)) {
        throw new ConnectorError({ kind: 'conflict', status: res.status, vendorCode: zohoErrorCode(res.body), message: `${account.userName} exists` });
      }
      throw ctx.http.fail(res, 'create the user');
    }
    const created = parseVendorBody(envelope(user), res.body, 'create the user').data;
    if (account.active === false) await setActive(ctx, account.userName, false);
    return { outcome: 'applied', externalId: created.zuid };
  },

  async updateAccount(ctx, userName, changes) {
    const u = await requireUser(ctx, userName);
    const current = toRecord(u);
    // Zoho Mail's API changes the display name (update-user-personal-info.html) but has no call for first
    // or last names, and the primary address is the account's key here: those are reported, not sent.
    const unchangeable = (['givenName', 'familyName', 'email'] as const)
      .filter((f) => changes[f] !== undefined && (current[f] ?? '').toLowerCase() !== changes[f]!.toLowerCase());
    let outcome: OperationResult = { outcome: 'already_in_state', externalId: u.zuid };
    if (changes.displayName !== undefined && changes.displayName !== current.displayName) {
      outcome = await putAccount(ctx, u, { mode: 'updatePersonalInfo', displayName: changes.displayName }, 'update the display name');
    }
    if (changes.active !== undefined && changes.active !== current.active) outcome = await setActive(ctx, userName, changes.active);
    return unchangeable.length > 0 ? { ...outcome, detail: { notChangeableThroughApi: unchangeable } } : outcome;
  },

  disableAccount: (ctx, userName) => setActive(ctx, userName, false),
  enableAccount: (ctx, userName) => setActive(ctx, userName, true),

  async deleteAccount(ctx, userName) {
    const u = await findUser(ctx, userName);
    if (!u) return { outcome: 'already_in_state' };
    // DELETE /api/organization/{zoid}/accounts with {accountList: [zuid]} (user-account-deletion.html)
    const res = await call(ctx, 'DELETE', '/accounts', { accountList: [Number(u.zuid)] });
    if (res.status === 404) return { outcome: 'already_in_state' };
    if (!ok(res)) throw ctx.http.fail(res, 'delete the user');
    return { outcome: 'applied', externalId: u.zuid };
  },

  addToGroup: (ctx, userName, zgid) => changeMembership(ctx, userName, zgid, true),
  removeFromGroup: (ctx, userName, zgid) => changeMembership(ctx, userName, zgid, false),

  async listAccounts(ctx, token): Promise<Page<AccountRecord>> {
    const start = pageToken(token, 0);
    // GET /api/organization/{zoid}/accounts?start&limit (get-org-users-details.html): `start` from 0.
    const res = await call(ctx, 'GET', `/accounts?start=${start}&limit=${PAGE_SIZE}`);
    if (res.status !== 200) throw ctx.http.fail(res, 'list users');
    const users = parseVendorBody(envelope(z.array(user)), res.body, 'list users').data;
    return { items: users.map(toRecord), nextPageToken: users.length > 0 ? String(start + users.length) : null };
  },

  async listGroups(ctx, token): Promise<Page<GroupRecord>> {
    const start = pageToken(token, 1);
    // GET /api/organization/{zoid}/groups?start&limit (get-all-group-details.html): `start` from 1, at most 25.
    const res = await call(ctx, 'GET', `/groups?start=${start}&limit=${GROUP_PAGE_SIZE}`);
    if (res.status !== 200) throw ctx.http.fail(res, 'list groups');
    const groups = parseVendorBody(envelope(z.object({ groups: z.array(group) })), res.body, 'list groups').data.groups;
    return {
      items: groups.map((g) => ({ id: g.zgid, displayName: g.name ?? g.emailId ?? g.zgid })),
      nextPageToken: groups.length > 0 ? String(start + groups.length) : null,
    };
  },
};
