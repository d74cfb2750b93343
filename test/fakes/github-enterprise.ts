/**
 * A stateful fake of GitHub Enterprise Cloud (Enterprise Managed Users): the enterprise SCIM API for users
 * and the REST API for teams and organization membership, with GitHub's paths, payloads, statuses, error
 * bodies (SCIM errors on /scim, `{message, documentation_url}` elsewhere), `Link` paging, rate-limit headers
 * and `x-github-request-id`. EMU logins follow GitHub's rule (`<normalised handle>_<shortcode>`). Its
 * traffic is checked against GitHub's OpenAPI description (github-enterprise.spec-check.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { emuLogin, githubEnterpriseConnector } from '../../connectors/github-enterprise';
import type { AccountSpec } from '../../connectors/types';
import type { ConformanceFake } from '../support/connector-conformance';
import { FakeVendor, type FakeVendorOptions } from './fake-vendor';
import { checkGithubExchanges } from './github-enterprise.spec-check';

const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const DOCS = 'https://docs.github.com/enterprise-cloud@latest/rest';

interface User {
  id: string;
  externalId: string;
  userName: string;
  displayName: string;
  givenName: string;
  familyName: string;
  email: string;
  active: boolean;
  created: string;
  lastModified: string;
}

export interface GithubFakeState {
  users: Map<string, User>;
  teams: Map<string, { id: number; name: string; slug: string; org: string; members: Set<string> }>;
  orgs: Map<string, Set<string>>;
}

export async function startGithubEnterpriseFake(options: FakeVendorOptions & { pageSize?: number } = {}): Promise<ConformanceFake> {
  const pageSize = options.pageSize ?? 5;
  const enterprise = 'acme-emu';
  const shortcode = 'acme';
  const org = 'acme-eng';
  const token = `ghp_${randomBytes(18).toString('hex')}`;
  const state: GithubFakeState = {
    users: new Map(),
    teams: new Map([[`${org}/platform`, { id: 1, name: 'Platform', slug: 'platform', org, members: new Set() }], [`${org}/security`, { id: 2, name: 'Security', slug: 'security', org, members: new Set() }]]),
    orgs: new Map([[org, new Set()]]),
  };
  let remaining = 5000;

  const writeError = (res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    const scim = res.req.path.startsWith('/scim/');
    if (scim) {
      res.status(status).type('application/scim+json').send(JSON.stringify({
        schemas: [SCIM_ERROR], status, detail: message, ...(code === 'uniqueness' || code === 'invalidValue' ? { scimType: code } : {}),
      }));
    } else {
      res.status(status).json({ message, documentation_url: DOCS, status: String(status) });
    }
  };
  const vendor = new FakeVendor(writeError, options);
  const app = vendor.app;
  const base = `/scim/v2/enterprises/${enterprise}`;

  // Every response carries GitHub's request id and primary rate-limit headers.
  app.use((req, res, next) => {
    remaining = Math.max(0, remaining - 1);
    res.setHeader('x-github-request-id', vendor.nextRequestId());
    res.setHeader('x-ratelimit-limit', '5000');
    res.setHeader('x-ratelimit-remaining', String(remaining));
    res.setHeader('x-ratelimit-reset', String(Math.floor(Date.now() / 1000) + 3600));
    res.setHeader('x-ratelimit-resource', req.path.startsWith('/scim/') ? 'scim' : 'core');
    const auth = req.get('authorization');
    if (auth !== `Bearer ${token}` && auth !== `token ${token}`) {
      // https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api#failed-login-limit
      res.status(401).json({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
      return;
    }
    next();
  });

  const url = (req: Request) => `${vendor.url}${req.baseUrl}`;
  const scimUser = (u: User) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], id: u.id, externalId: u.externalId, userName: u.userName, displayName: u.displayName,
    active: u.active, name: { givenName: u.givenName, familyName: u.familyName, formatted: u.displayName },
    emails: [{ value: u.email, type: 'work', primary: true }], roles: [{ value: 'user', primary: false }],
    meta: { resourceType: 'User', created: u.created, lastModified: u.lastModified, location: `${vendor.url}${base}/Users/${u.id}` },
  });
  const byUserName = (userName: string) => [...state.users.values()].find((u) => u.userName.toLowerCase() === userName.toLowerCase());
  const byLogin = (login: string) => [...state.users.values()].find((u) => emuLogin(u.userName, shortcode).toLowerCase() === login.toLowerCase());
  const scim = (res: Response, status: number, body: unknown) => res.status(status).type('application/scim+json').send(JSON.stringify(body));
  const notFound = (res: Response) => res.status(404).json({ message: 'Not Found', documentation_url: DOCS, status: '404' });

  /** Validates a SCIM user body the way GitHub does (the required attributes), or answers 400. */
  const userFromBody = (req: Request, res: Response): Omit<User, 'id' | 'created' | 'lastModified'> | null => {
    const b = req.body as Record<string, unknown>;
    const emails = b.emails as { value?: string; primary?: boolean }[] | undefined;
    const name = (b.name ?? {}) as { givenName?: string; familyName?: string };
    if (!Array.isArray(b.schemas) || typeof b.userName !== 'string' || typeof b.externalId !== 'string' || typeof b.active !== 'boolean'
      || typeof b.displayName !== 'string' || !Array.isArray(emails) || emails.length === 0 || typeof emails[0]?.value !== 'string') {
      writeError(res, 400, 'invalidValue', 'A required attribute is missing or invalid.');
      return null;
    }
    return {
      externalId: b.externalId, userName: b.userName, displayName: b.displayName, givenName: name.givenName ?? '', familyName: name.familyName ?? '',
      email: (emails.find((e) => e.primary) ?? emails[0])!.value!, active: b.active,
    };
  };

  // https://docs.github.com/en/enterprise-cloud@latest/rest/enterprise-admin/scim
  app.get(`${base}/Users`, (req, res) => {
    let users = [...state.users.values()];
    const filter = typeof req.query.filter === 'string' ? req.query.filter : null;
    if (filter) {
      const m = /^(userName|externalId) eq "((?:[^"\\]|\\.)*)"$/.exec(filter);
      if (!m) return writeError(res, 400, 'invalidFilter', 'Only eq filters on userName and externalId are supported.');
      const value = m[2]!.replace(/\\"/g, '"').toLowerCase();
      users = users.filter((u) => (m[1] === 'userName' ? u.userName : u.externalId).toLowerCase() === value);
    }
    const startIndex = Math.max(1, Number(req.query.startIndex ?? 1) || 1);
    const count = Math.min(pageSize, Math.max(0, Number(req.query.count ?? pageSize) || pageSize));
    const page = users.slice(startIndex - 1, startIndex - 1 + count);
    return scim(res, 200, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: users.length, Resources: page.map(scimUser), startIndex, itemsPerPage: page.length });
  });
  app.post(`${base}/Users`, (req, res) => {
    const body = userFromBody(req, res);
    if (!body) return undefined;
    if (byUserName(body.userName) || [...state.users.values()].some((u) => u.externalId === body.externalId)) {
      return writeError(res, 409, 'uniqueness', 'User already exists in the enterprise.');
    }
    const now = new Date().toISOString();
    const user: User = { ...body, id: randomUUID(), created: now, lastModified: now };
    state.users.set(user.id, user);
    vendor.sideEffect(`create:${user.userName}`);
    return scim(res, 201, scimUser(user));
  });
  app.get(`${base}/Users/:id`, (req, res) => {
    const user = state.users.get(req.params.id!);
    return user ? scim(res, 200, scimUser(user)) : notFound(res);
  });
  app.put(`${base}/Users/:id`, (req, res) => {
    const user = state.users.get(req.params.id!);
    if (!user) return notFound(res);
    const body = userFromBody(req, res);
    if (!body) return undefined;
    const next = { ...user, ...body, lastModified: new Date().toISOString() };
    vendor.sideEffect(`put:${user.userName}:${JSON.stringify({ ...body, userName: undefined })}`);
    state.users.set(user.id, next);
    if (!next.active) {
      // Deactivating an EMU user suspends it: it leaves its teams and organizations.
      const login = emuLogin(next.userName, shortcode);
      for (const t of state.teams.values()) t.members.delete(login);
      for (const members of state.orgs.values()) members.delete(login);
    }
    return scim(res, 200, scimUser(next));
  });
  app.delete(`${base}/Users/:id`, (req, res) => {
    const user = state.users.get(req.params.id!);
    if (!user) return notFound(res);
    state.users.delete(user.id);
    vendor.sideEffect(`delete:${user.userName}`);
    const login = emuLogin(user.userName, shortcode);
    for (const t of state.teams.values()) t.members.delete(login);
    for (const members of state.orgs.values()) members.delete(login);
    return res.status(204).end();
  });

  const teamJson = (t: { id: number; name: string; slug: string; org: string }, req: Request) => ({
    id: t.id, node_id: `T_${t.id}`, url: `${url(req)}/orgs/${t.org}/teams/${t.slug}`, html_url: `https://github.com/orgs/${t.org}/teams/${t.slug}`,
    name: t.name, slug: t.slug, description: null, privacy: 'closed', notification_setting: 'notifications_enabled', permission: 'pull',
    members_url: `${url(req)}/orgs/${t.org}/teams/${t.slug}/members{/member}`, repositories_url: `${url(req)}/orgs/${t.org}/teams/${t.slug}/repos`, parent: null, type: 'organization',
  });
  const simpleUser = (login: string, req: Request) => ({
    login, id: 1000 + [...state.users.keys()].length, node_id: `U_${login}`, avatar_url: 'https://avatars.githubusercontent.com/u/1', gravatar_id: null,
    url: `${url(req)}/users/${login}`, html_url: `https://github.com/${login}`, followers_url: `${url(req)}/users/${login}/followers`,
    following_url: `${url(req)}/users/${login}/following{/other_user}`, gists_url: `${url(req)}/users/${login}/gists{/gist_id}`,
    starred_url: `${url(req)}/users/${login}/starred{/owner}{/repo}`, subscriptions_url: `${url(req)}/users/${login}/subscriptions`,
    organizations_url: `${url(req)}/users/${login}/orgs`, repos_url: `${url(req)}/users/${login}/repos`, events_url: `${url(req)}/users/${login}/events{/privacy}`,
    received_events_url: `${url(req)}/users/${login}/received_events`, type: 'User', site_admin: false,
  });
  const orgJson = (name: string, req: Request) => ({
    login: name, id: 42, node_id: `O_${name}`, url: `${url(req)}/orgs/${name}`, repos_url: `${url(req)}/orgs/${name}/repos`, events_url: `${url(req)}/orgs/${name}/events`,
    hooks_url: `${url(req)}/orgs/${name}/hooks`, issues_url: `${url(req)}/orgs/${name}/issues`, members_url: `${url(req)}/orgs/${name}/members{/member}`,
    public_members_url: `${url(req)}/orgs/${name}/public_members{/member}`, avatar_url: 'https://avatars.githubusercontent.com/u/42', description: null,
  });

  // https://docs.github.com/en/enterprise-cloud@latest/rest/teams/teams#list-teams
  app.get('/orgs/:org/teams', (req, res) => {
    const all = [...state.teams.values()].filter((t) => t.org === req.params.org);
    const perPage = Math.min(pageSize, Math.max(1, Number(req.query.per_page ?? 30) || 30));
    const page = Math.max(1, Number(req.query.page ?? 1) || 1);
    const items = all.slice((page - 1) * perPage, page * perPage);
    if (page * perPage < all.length) res.setHeader('Link', `<${vendor.url}/orgs/${req.params.org}/teams?per_page=${perPage}&page=${page + 1}>; rel="next", <${vendor.url}/orgs/${req.params.org}/teams?per_page=${perPage}&page=${Math.ceil(all.length / perPage)}>; rel="last"`);
    return res.status(200).json(items.map((t) => teamJson(t, req)));
  });
  // https://docs.github.com/en/enterprise-cloud@latest/rest/teams/teams#get-a-team-by-name (the full team)
  app.get('/orgs/:org/teams/:slug', (req, res) => {
    const t = state.teams.get(`${req.params.org}/${req.params.slug}`);
    if (!t) return notFound(res);
    const created = '2026-01-05T09:00:00Z';
    return res.status(200).json({
      ...teamJson(t, req), created_at: created, updated_at: created, members_count: t.members.size, repos_count: 0,
      organization: {
        ...orgJson(t.org, req), html_url: `https://github.com/${t.org}`, has_organization_projects: true, has_repository_projects: true, public_repos: 0,
        public_gists: 0, followers: 0, following: 0, type: 'Organization', created_at: created, updated_at: created, archived_at: null,
      },
    });
  });
  // https://docs.github.com/en/enterprise-cloud@latest/rest/teams/members
  const membershipJson = (req: Request) => ({ url: `${url(req)}${req.path}`, role: 'member', state: 'active' });
  app.get('/orgs/:org/teams/:slug/memberships/:login', (req, res) => {
    const t = state.teams.get(`${req.params.org}/${req.params.slug}`);
    if (!t || !t.members.has(req.params.login!.toLowerCase())) return notFound(res);
    return res.status(200).json(membershipJson(req));
  });
  app.put('/orgs/:org/teams/:slug/memberships/:login', (req, res) => {
    const t = state.teams.get(`${req.params.org}/${req.params.slug}`);
    const user = byLogin(req.params.login!);
    if (!t || !user || !user.active) return notFound(res);
    const login = req.params.login!.toLowerCase();
    if (!t.members.has(login)) vendor.sideEffect(`team:${t.slug}:${login}`);
    t.members.add(login);
    state.orgs.get(t.org)?.add(login);
    return res.status(200).json(membershipJson(req));
  });
  app.delete('/orgs/:org/teams/:slug/memberships/:login', (req, res) => {
    const t = state.teams.get(`${req.params.org}/${req.params.slug}`);
    if (t?.members.delete(req.params.login!.toLowerCase())) vendor.sideEffect(`team-remove:${t.slug}:${req.params.login}`);
    return res.status(204).end();
  });
  // https://docs.github.com/en/enterprise-cloud@latest/rest/orgs/members
  const orgMembershipJson = (name: string, login: string, req: Request) => ({
    url: `${url(req)}/orgs/${name}/memberships/${login}`, state: 'active', role: 'member', organization_url: `${url(req)}/orgs/${name}`,
    organization: orgJson(name, req), user: simpleUser(login, req),
  });
  app.get('/orgs/:org/memberships/:login', (req, res) => {
    const members = state.orgs.get(req.params.org!);
    const login = req.params.login!.toLowerCase();
    if (!members?.has(login)) return notFound(res);
    return res.status(200).json(orgMembershipJson(req.params.org!, login, req));
  });
  app.put('/orgs/:org/memberships/:login', (req, res) => {
    const members = state.orgs.get(req.params.org!);
    const user = byLogin(req.params.login!);
    if (!members || !user) return notFound(res);
    const login = req.params.login!.toLowerCase();
    if (!members.has(login)) vendor.sideEffect(`org:${req.params.org}:${login}`);
    members.add(login);
    return res.status(200).json(orgMembershipJson(req.params.org!, login, req));
  });
  app.delete('/orgs/:org/memberships/:login', (req, res) => {
    const members = state.orgs.get(req.params.org!);
    const login = req.params.login!.toLowerCase();
    if (!members?.has(login)) return notFound(res);
    members.delete(login);
    for (const t of state.teams.values()) if (t.org === req.params.org) t.members.delete(login);
    vendor.sideEffect(`org-remove:${req.params.org}:${login}`);
    return res.status(204).end();
  });

  await vendor.start();
  const account = (n: number): AccountSpec => ({
    userName: `user${n}@acme.test`, email: `user${n}@acme.test`, displayName: `User ${n}`, givenName: 'User', familyName: `Number${n}`, externalId: `portal-${n}`,
  });
  return {
    plugin: githubEnterpriseConnector as never,
    vendor,
    config: { enterprise, shortcode, organization: org, apiBaseUrl: vendor.url },
    credentials: { token },
    badCredentials: { token: `ghp_${randomBytes(18).toString('hex')}` },
    group: `${org}/platform`,
    assignment: org,
    account,
    pageSize,
    seedAccounts(count: number) {
      const now = new Date().toISOString();
      for (let i = 0; i < count; i += 1) {
        const id = randomUUID();
        state.users.set(id, { id, externalId: `seed-${id}`, userName: `seed-${id}@acme.test`, displayName: 'Seeded', givenName: 'Seeded', familyName: 'User', email: `seed-${id}@acme.test`, active: true, created: now, lastModified: now });
      }
      for (let i = 0; i < pageSize * 2; i += 1) state.teams.set(`${org}/team-${i}`, { id: 100 + i, name: `Team ${i}`, slug: `team-${i}`, org, members: new Set() });
    },
    state: {
      account: (userName) => {
        const u = byUserName(userName);
        return u ? { active: u.active } : null;
      },
      isMember: (userName, group) => state.teams.get(group)?.members.has(emuLogin(userName, shortcode).toLowerCase()) ?? false,
      hasAssignment: (userName, assignment) => state.orgs.get(assignment)?.has(emuLogin(userName, shortcode).toLowerCase()) ?? false,
    },
    checkAgainstSpec: checkGithubExchanges,
    close: () => vendor.close(),
  };
}
