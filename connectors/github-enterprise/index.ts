import { z } from 'zod';
import { ConnectorError, mustExist, retryAfterMs } from '../errors';
import type { VendorResponse } from '../http';
import { parseVendorBody } from '../http';
import type { AccountRecord, AccountSpec, ConnectorContext, ConnectorPlugin, GroupRecord, OperationResult, Page } from '../types';

/**
 * GitHub Enterprise Cloud with Enterprise Managed Users: accounts through the enterprise SCIM API, team and
 * organization membership through the REST API. See README.md beside this file.
 */

const configSchema = z.strictObject({
  /** The enterprise slug (`github.com/enterprises/<slug>`). */
  enterprise: z.string().min(1).max(100).regex(/^[A-Za-z0-9-]+$/),
  /** The enterprise's short code: EMU logins are `<normalised handle>_<shortcode>`. */
  shortcode: z.string().min(1).max(20).regex(/^[A-Za-z0-9]+$/),
  /** The organization whose teams are listed for reconciliation. */
  organization: z.string().min(1).max(100).regex(/^[A-Za-z0-9-]+$/),
  apiBaseUrl: z.url().default('https://api.github.com'),
});
const credentialsSchema = z.strictObject({
  /** A personal access token (classic) of the setup user with `scim:enterprise`, `admin:org`. */
  token: z.string().min(20).max(500),
});
type Config = z.infer<typeof configSchema>;
type Credentials = z.infer<typeof credentialsSchema>;
type Ctx = ConnectorContext<Config, Credentials>;

const PAGE_SIZE = 100;
const SCIM_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

const scimUser = z.object({
  id: z.string(),
  externalId: z.string().nullable().optional(),
  userName: z.string(),
  displayName: z.string().nullable().optional(),
  active: z.boolean(),
  name: z.object({ givenName: z.string().optional(), familyName: z.string().optional() }).partial().optional(),
  emails: z.array(z.object({ value: z.string(), primary: z.boolean().optional(), type: z.string().optional() })),
});
type ScimUser = z.infer<typeof scimUser>;
const scimList = z.object({ totalResults: z.number(), Resources: z.array(scimUser), startIndex: z.number(), itemsPerPage: z.number() });
const teamMembership = z.object({ role: z.string(), state: z.enum(['active', 'pending']), url: z.string() });
const orgMembership = z.object({ state: z.enum(['active', 'pending']), role: z.string() });
const team = z.object({ id: z.number(), slug: z.string(), name: z.string() });

/**
 * The EMU login GitHub derives from a SCIM userName: the part before any `@`, characters other than
 * letters, digits and `-` replaced by `-`, dashes collapsed and trimmed, then `_<shortcode>`.
 * https://docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/iam-configuration-reference/username-considerations-for-external-authentication
 */
export function emuLogin(userName: string, shortcode: string): string {
  const handle = (userName.split('@')[0] ?? userName).replace(/[^A-Za-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  return `${handle}_${shortcode}`;
}

function scimHeaders(ctx: Ctx) {
  return { authorization: `Bearer ${ctx.credentials.token}`, accept: 'application/scim+json', 'x-github-api-version': '2022-11-28' };
}
function restHeaders(ctx: Ctx) {
  return { authorization: `Bearer ${ctx.credentials.token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' };
}
const scimBase = (ctx: Ctx) => `${ctx.config.apiBaseUrl}/scim/v2/enterprises/${encodeURIComponent(ctx.config.enterprise)}`;

/**
 * GitHub's own classification on top of the shared one: a 403 (or 429) carrying `x-ratelimit-remaining: 0`
 * or `retry-after` is a primary or secondary rate limit, not a permission problem.
 * https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
 */
function fail(ctx: Ctx, res: VendorResponse, what: string): ConnectorError {
  if ((res.status === 403 || res.status === 429) && (res.headers.get('x-ratelimit-remaining') === '0' || res.headers.get('retry-after') !== null)) {
    return new ConnectorError({ kind: 'rate_limited', status: res.status, retryAfterMs: retryAfterMs(res.headers, ctx.now()), message: `${what}: rate limited (HTTP ${res.status})` });
  }
  return ctx.http.fail(res, what);
}

function toRecord(u: ScimUser): AccountRecord {
  return {
    id: u.id, userName: u.userName, displayName: u.displayName ?? null, givenName: u.name?.givenName ?? null, familyName: u.name?.familyName ?? null,
    email: u.emails.find((e) => e.primary)?.value ?? u.emails[0]?.value ?? null, externalId: u.externalId ?? null, active: u.active,
  };
}

function scimBody(account: Omit<AccountSpec, 'active'> & { active: boolean }) {
  return {
    schemas: [SCIM_USER], externalId: account.externalId, userName: account.userName, active: account.active, displayName: account.displayName,
    name: { givenName: account.givenName, familyName: account.familyName, formatted: account.displayName },
    emails: [{ value: account.email, type: 'work', primary: true }],
    roles: [{ value: 'user', primary: false }],
  };
}

async function findUser(ctx: Ctx, userName: string): Promise<ScimUser | null> {
  // https://docs.github.com/en/enterprise-cloud@latest/rest/enterprise-admin/scim#list-scim-provisioned-identities-for-an-enterprise
  const filter = `userName eq "${userName.replace(/"/g, '\\"')}"`;
  const list = await ctx.http.request({ method: 'GET', url: `${scimBase(ctx)}/Users?filter=${encodeURIComponent(filter)}`, headers: scimHeaders(ctx) });
  if (list.status !== 200) throw fail(ctx, list, 'find the enterprise user');
  return parseVendorBody(scimList, list.body, 'find the enterprise user').Resources[0] ?? null;
}

const requireUser = async (ctx: Ctx, userName: string): Promise<ScimUser> => mustExist(await findUser(ctx, userName), `enterprise user ${userName}`);

/** Replaces the user with PUT (GitHub's PATCH schema takes only string values, so `active` goes by PUT). */
async function putUser(ctx: Ctx, user: ScimUser, wanted: Omit<AccountSpec, 'active'> & { active: boolean }): Promise<OperationResult> {
  // https://docs.github.com/en/enterprise-cloud@latest/rest/enterprise-admin/scim#set-scim-information-for-a-provisioned-enterprise-user
  const res = await ctx.http.request({ method: 'PUT', url: `${scimBase(ctx)}/Users/${encodeURIComponent(user.id)}`, headers: scimHeaders(ctx), json: scimBody(wanted) });
  if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no enterprise user ${wanted.userName}` });
  if (res.status !== 200) throw fail(ctx, res, 'update the enterprise user');
  parseVendorBody(scimUser, res.body, 'update the enterprise user');
  return { outcome: 'applied', externalId: user.id };
}

function specOf(user: ScimUser): Omit<AccountSpec, 'active'> & { active: boolean } {
  const r = toRecord(user);
  return {
    userName: r.userName, displayName: r.displayName ?? r.userName, givenName: r.givenName ?? '', familyName: r.familyName ?? '', email: r.email ?? r.userName,
    externalId: r.externalId ?? '', active: r.active,
  };
}

async function setActive(ctx: Ctx, userName: string, active: boolean): Promise<OperationResult> {
  const user = await requireUser(ctx, userName);
  if (user.active === active) return { outcome: 'already_in_state', externalId: user.id };
  return putUser(ctx, user, { ...specOf(user), active });
}

function parseTeam(ref: string): { org: string; slug: string } {
  const [org, slug, extra] = ref.split('/');
  if (!org || !slug || extra !== undefined) throw new ConnectorError({ kind: 'invalid', message: `a GitHub team is named org/team-slug, not ${ref}` });
  return { org, slug };
}

async function teamExists(ctx: Ctx, org: string, slug: string): Promise<boolean> {
  // https://docs.github.com/en/enterprise-cloud@latest/rest/teams/teams#get-a-team-by-name
  const res = await ctx.http.request({ method: 'GET', url: `${ctx.config.apiBaseUrl}/orgs/${org}/teams/${slug}`, headers: restHeaders(ctx) });
  if (res.status === 404) return false;
  if (res.status !== 200) throw fail(ctx, res, 'read the team');
  return true;
}

async function teamMember(ctx: Ctx, org: string, slug: string, login: string): Promise<boolean> {
  // https://docs.github.com/en/enterprise-cloud@latest/rest/teams/members#get-team-membership-for-a-user
  const res = await ctx.http.request({ method: 'GET', url: `${ctx.config.apiBaseUrl}/orgs/${org}/teams/${slug}/memberships/${login}`, headers: restHeaders(ctx) });
  if (res.status === 404) return false;
  if (res.status !== 200) throw fail(ctx, res, 'read the team membership');
  return parseVendorBody(teamMembership, res.body, 'read the team membership').state === 'active';
}

async function orgMember(ctx: Ctx, org: string, login: string): Promise<boolean> {
  // https://docs.github.com/en/enterprise-cloud@latest/rest/orgs/members#get-organization-membership-for-a-user
  const res = await ctx.http.request({ method: 'GET', url: `${ctx.config.apiBaseUrl}/orgs/${org}/memberships/${login}`, headers: restHeaders(ctx) });
  if (res.status === 404) return false;
  if (res.status !== 200) throw fail(ctx, res, 'read the organization membership');
  parseVendorBody(orgMembership, res.body, 'read the organization membership');
  return true;
}

/** The next page's URL from a `Link` header (RFC 8288), or null. */
function nextLink(headers: Headers): string | null {
  const link = headers.get('link');
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="next"/.exec(part.trim());
    if (m) return m[1]!;
  }
  return null;
}

export const githubEnterpriseConnector: ConnectorPlugin<Config, Credentials> = {
  describe: () => ({
    kind: 'github_enterprise', displayName: 'GitHub Enterprise Cloud (EMU)', vendor: 'GitHub',
    docsUrl: 'https://docs.github.com/en/enterprise-cloud@latest/rest/enterprise-admin/scim',
    // Authenticated REST clients get 5,000 requests an hour, and GitHub asks for no more than one mutating
    // request a second per token (secondary limits); 1/s keeps plans under both.
    rateLimitPerSecond: 1,
  }),
  configSchema,
  credentialsSchema,
  requestIdHeaders: ['x-github-request-id'],
  vendorErrorCode: (body) => {
    const scimType = (body as { scimType?: unknown } | null)?.scimType;
    return typeof scimType === 'string' ? scimType : null;
  },

  async testConnection(ctx) {
    // https://docs.github.com/en/enterprise-cloud@latest/rest/enterprise-admin/scim#list-scim-provisioned-identities-for-an-enterprise
    const res = await ctx.http.request({ method: 'GET', url: `${scimBase(ctx)}/Users?count=1`, headers: scimHeaders(ctx) });
    if (res.status !== 200) throw fail(ctx, res, 'list enterprise users');
    parseVendorBody(scimList, res.body, 'list enterprise users');
  },

  async getAccount(ctx, userName) {
    const user = await findUser(ctx, userName);
    return user ? toRecord(user) : null;
  },

  async createAccount(ctx, account) {
    // https://docs.github.com/en/enterprise-cloud@latest/rest/enterprise-admin/scim#provision-a-scim-enterprise-user
    const res = await ctx.http.request({ method: 'POST', url: `${scimBase(ctx)}/Users`, headers: scimHeaders(ctx), json: scimBody({ ...account, active: account.active ?? true }) });
    if (res.status === 409) throw new ConnectorError({ kind: 'conflict', status: 409, vendorCode: 'uniqueness', message: `${account.userName} exists` });
    if (res.status !== 201) throw fail(ctx, res, 'provision the enterprise user');
    return { outcome: 'applied', externalId: parseVendorBody(scimUser, res.body, 'provision the enterprise user').id };
  },

  async updateAccount(ctx, userName, changes) {
    const user = await requireUser(ctx, userName);
    const current = specOf(user);
    const wanted = { ...current, ...changes, active: changes.active ?? current.active };
    const differs = (Object.keys(changes) as (keyof typeof changes)[]).some((k) => String(wanted[k]).toLowerCase() !== String(current[k]).toLowerCase());
    if (!differs) return { outcome: 'already_in_state', externalId: user.id };
    return putUser(ctx, user, wanted);
  },

  disableAccount: (ctx, userName) => setActive(ctx, userName, false),
  enableAccount: (ctx, userName) => setActive(ctx, userName, true),

  async deleteAccount(ctx, userName) {
    const user = await findUser(ctx, userName);
    if (!user) return { outcome: 'already_in_state' };
    // https://docs.github.com/en/enterprise-cloud@latest/rest/enterprise-admin/scim#delete-a-scim-user-from-an-enterprise
    const res = await ctx.http.request({ method: 'DELETE', url: `${scimBase(ctx)}/Users/${encodeURIComponent(user.id)}`, headers: scimHeaders(ctx) });
    if (res.status === 404) return { outcome: 'already_in_state' };
    if (res.status !== 204) throw fail(ctx, res, 'delete the enterprise user');
    return { outcome: 'applied', externalId: user.id };
  },

  async addToGroup(ctx, userName, group) {
    const { org, slug } = parseTeam(group);
    const login = emuLogin(userName, ctx.config.shortcode);
    if (await teamMember(ctx, org, slug, login)) return { outcome: 'already_in_state' };
    // A missing team answers PUT with a 404 GitHub's description does not list: ask first.
    if (!(await teamExists(ctx, org, slug))) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no team ${group}` });
    // https://docs.github.com/en/enterprise-cloud@latest/rest/teams/members#add-or-update-team-membership-for-a-user
    const res = await ctx.http.request({ method: 'PUT', url: `${ctx.config.apiBaseUrl}/orgs/${org}/teams/${slug}/memberships/${login}`, headers: restHeaders(ctx), json: { role: 'member' } });
    if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no team ${group} or no user ${login}` });
    if (res.status !== 200) throw fail(ctx, res, 'add the team membership');
    parseVendorBody(teamMembership, res.body, 'add the team membership');
    return { outcome: 'applied', detail: { login } };
  },

  async removeFromGroup(ctx, userName, group) {
    const { org, slug } = parseTeam(group);
    const login = emuLogin(userName, ctx.config.shortcode);
    if (!(await teamMember(ctx, org, slug, login))) {
      if (!(await teamExists(ctx, org, slug))) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no team ${group}` });
      return { outcome: 'already_in_state' };
    }
    // https://docs.github.com/en/enterprise-cloud@latest/rest/teams/members#remove-team-membership-for-a-user
    const res = await ctx.http.request({ method: 'DELETE', url: `${ctx.config.apiBaseUrl}/orgs/${org}/teams/${slug}/memberships/${login}`, headers: restHeaders(ctx) });
    if (res.status === 404) return { outcome: 'already_in_state' };
    if (res.status !== 204) throw fail(ctx, res, 'remove the team membership');
    return { outcome: 'applied', detail: { login } };
  },

  async assign(ctx, userName, org) {
    const login = emuLogin(userName, ctx.config.shortcode);
    if (await orgMember(ctx, org, login)) return { outcome: 'already_in_state' };
    // https://docs.github.com/en/enterprise-cloud@latest/rest/orgs/members#set-organization-membership-for-a-user
    const res = await ctx.http.request({ method: 'PUT', url: `${ctx.config.apiBaseUrl}/orgs/${org}/memberships/${login}`, headers: restHeaders(ctx), json: { role: 'member' } });
    if (res.status === 404) throw new ConnectorError({ kind: 'not_found', status: 404, message: `no organization ${org} or no user ${login}` });
    if (res.status !== 200) throw fail(ctx, res, 'set the organization membership');
    parseVendorBody(orgMembership, res.body, 'set the organization membership');
    return { outcome: 'applied', detail: { login } };
  },

  async unassign(ctx, userName, org) {
    const login = emuLogin(userName, ctx.config.shortcode);
    if (!(await orgMember(ctx, org, login))) return { outcome: 'already_in_state' };
    // https://docs.github.com/en/enterprise-cloud@latest/rest/orgs/members#remove-organization-membership-for-a-user
    const res = await ctx.http.request({ method: 'DELETE', url: `${ctx.config.apiBaseUrl}/orgs/${org}/memberships/${login}`, headers: restHeaders(ctx) });
    if (res.status === 404) return { outcome: 'already_in_state' };
    if (res.status !== 204) throw fail(ctx, res, 'remove the organization membership');
    return { outcome: 'applied', detail: { login } };
  },

  async listAccounts(ctx, pageToken): Promise<Page<AccountRecord>> {
    const startIndex = pageToken ? Number(pageToken) : 1;
    // https://docs.github.com/en/enterprise-cloud@latest/rest/enterprise-admin/scim#list-scim-provisioned-identities-for-an-enterprise
    const res = await ctx.http.request({ method: 'GET', url: `${scimBase(ctx)}/Users?startIndex=${startIndex}&count=${PAGE_SIZE}`, headers: scimHeaders(ctx) });
    if (res.status !== 200) throw fail(ctx, res, 'list enterprise users');
    const page = parseVendorBody(scimList, res.body, 'list enterprise users');
    const next = page.startIndex + page.Resources.length;
    return { items: page.Resources.map(toRecord), nextPageToken: page.Resources.length > 0 && next <= page.totalResults ? String(next) : null };
  },

  async listGroups(ctx, pageToken): Promise<Page<GroupRecord>> {
    // https://docs.github.com/en/enterprise-cloud@latest/rest/teams/teams#list-teams (pages by `Link` header)
    const url = pageToken ?? `${ctx.config.apiBaseUrl}/orgs/${ctx.config.organization}/teams?per_page=${PAGE_SIZE}`;
    if (!url.startsWith(`${ctx.config.apiBaseUrl}/`)) throw new ConnectorError({ kind: 'invalid', message: 'page token is not a GitHub API URL' });
    const res = await ctx.http.request({ method: 'GET', url, headers: restHeaders(ctx) });
    if (res.status !== 200) throw fail(ctx, res, 'list teams');
    const teams = parseVendorBody(z.array(team), res.body, 'list teams');
    return { items: teams.map((t) => ({ id: `${ctx.config.organization}/${t.slug}`, displayName: t.name })), nextPageToken: nextLink(res.headers) };
  },
};
