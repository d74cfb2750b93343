/**
 * A stateful SCIM 2.0 service provider (RFC 7643 / RFC 7644) with the documented differences of each
 * SCIM-speaking vendor as a profile: where it is mounted, how it authenticates, whether DELETE deletes or
 * deactivates, whether groups carry their members, which filters it understands, its error body and its
 * throttling. The traffic is checked against RFC 7643/7644 (scim-spec-check.ts), since these vendors publish
 * no machine-readable description on a registry reachable here.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { AccountSpec, ConnectorPlugin } from '../../connectors/types';
import type { ConformanceFake } from '../support/connector-conformance';
import { FakeVendor, type FakeVendorOptions } from './fake-vendor';
import { checkScimExchanges } from './scim-spec-check';

export interface ScimFakeProfile {
  plugin: ConnectorPlugin;
  /** Where the service provider is mounted, e.g. `/scim/v2` (no trailing slash). */
  prefix: string;
  /** DELETE /Users/{id}: `delete` removes; `deactivate` sets active false and keeps the user. */
  deletion: 'delete' | 'deactivate';
  /** Whether GET /Groups/{id} returns `members` (AWS omits them). */
  groupsIncludeMembers: boolean;
  /** Filters on /Groups: `id eq … and members eq …` supported (AWS). */
  groupMemberFilter: boolean;
  /** At most this many members in one PATCH (AWS: 100). */
  maxMembersPerPatch?: number;
  /** The vendor's error body. */
  errorBody(status: number, scimType: string | null, detail: string): unknown;
  requestIdHeader: string;
  /** Builds config and credentials for a fake listening at `url` with bearer `token`. */
  config(url: string): unknown;
  credentials(token: string): unknown;
  /** Adds vendor headers (rate-limit headers...). */
  headers?(res: Response): void;
  /** Entitlements that exist (Salesforce: profiles and permission sets); a create must carry `requiredEntitlement`. */
  entitlements?: { available: string[]; requiredOnCreate: string };
}

interface User {
  id: string;
  userName: string;
  externalId: string | null;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  email: string | null;
  active: boolean;
  created: string;
  entitlements: Set<string>;
}

export async function startScimFake(profile: ScimFakeProfile, options: FakeVendorOptions & { pageSize?: number } = {}): Promise<ConformanceFake & { token: string }> {
  const pageSize = options.pageSize ?? 5;
  const token = randomBytes(24).toString('base64url');
  const users = new Map<string, User>();
  const groups = new Map<string, { id: string; displayName: string; members: Set<string> }>();
  for (const name of ['Engineering', 'Everyone']) {
    const id = randomUUID();
    groups.set(id, { id, displayName: name, members: new Set() });
  }
  const writeError = (res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    const scimType = ['uniqueness', 'invalidFilter', 'invalidValue', 'invalidSyntax', 'tooMany', 'mutability', 'noTarget', 'invalidPath'].includes(code) ? code : null;
    res.status(status).type('application/scim+json').send(JSON.stringify(profile.errorBody(status, scimType, message)));
  };
  const vendor = new FakeVendor(writeError, { ...options });
  const app = vendor.app;
  const p = profile.prefix;

  app.use((req, res, next) => {
    res.setHeader(profile.requestIdHeader, vendor.nextRequestId());
    profile.headers?.(res);
    if (req.get('authorization') !== `Bearer ${token}`) return writeError(res, 401, 'unauthorized', 'Authorization failure. The authorization header is invalid or missing.');
    return next();
  });

  const userJson = (u: User) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], id: u.id, userName: u.userName, ...(u.externalId ? { externalId: u.externalId } : {}),
    ...(u.displayName ? { displayName: u.displayName } : {}), name: { givenName: u.givenName ?? '', familyName: u.familyName ?? '' },
    emails: u.email ? [{ value: u.email, type: 'work', primary: true }] : [], active: u.active,
    ...(profile.entitlements ? { entitlements: [...u.entitlements].map((value) => ({ value })) } : {}),
    meta: { resourceType: 'User', created: u.created, lastModified: u.created, location: `${vendor.url}${p}/Users/${u.id}` },
  });
  const groupJson = (g: { id: string; displayName: string; members: Set<string> }, withMembers: boolean) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], id: g.id, displayName: g.displayName,
    ...(withMembers ? { members: [...g.members].map((value) => ({ value })) } : {}),
    meta: { resourceType: 'Group', location: `${vendor.url}${p}/Groups/${g.id}` },
  });
  const list = (items: unknown[], req: Request) => {
    const startIndex = Math.max(1, Number(req.query.startIndex ?? 1) || 1);
    const count = Math.min(pageSize, Math.max(0, Number(req.query.count ?? pageSize) || pageSize));
    const page = items.slice(startIndex - 1, startIndex - 1 + count);
    return { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: items.length, itemsPerPage: page.length, startIndex, Resources: page };
  };
  const send = (res: Response, status: number, body: unknown) => res.status(status).type('application/scim+json').send(JSON.stringify(body));
  const byUserName = (userName: string) => [...users.values()].find((u) => u.userName.toLowerCase() === userName.toLowerCase());
  const eq = /^(\w+(?:\.\w+)?) eq "((?:[^"\\]|\\.)*)"$/;

  app.get(`${p}/Users`, (req, res) => {
    let found = [...users.values()];
    if (typeof req.query.filter === 'string') {
      const m = eq.exec(req.query.filter);
      if (!m || !['userName', 'externalId'].includes(m[1]!)) return writeError(res, 400, 'invalidFilter', 'The filter is not supported.');
      const value = m[2]!.replace(/\\(.)/g, '$1').toLowerCase();
      found = found.filter((u) => (m[1] === 'userName' ? u.userName : u.externalId ?? '').toLowerCase() === value);
    }
    return send(res, 200, list(found.map(userJson), req));
  });
  app.post(`${p}/Users`, (req, res) => {
    const b = req.body as Record<string, unknown>;
    if (typeof b.userName !== 'string' || !Array.isArray(b.schemas)) return writeError(res, 400, 'invalidValue', 'userName is required.');
    if (byUserName(b.userName)) return writeError(res, 409, 'uniqueness', 'A user with this userName already exists.');
    const name = (b.name ?? {}) as { givenName?: string; familyName?: string };
    const emails = (b.emails ?? []) as { value?: string; primary?: boolean }[];
    const entitlements = ((b.entitlements ?? []) as { value?: string }[]).map((e) => String(e.value));
    if (profile.entitlements && !entitlements.includes(profile.entitlements.requiredOnCreate)) return writeError(res, 400, 'invalidValue', 'A profile entitlement is required.');
    const u: User = {
      id: randomUUID(), userName: b.userName, externalId: typeof b.externalId === 'string' ? b.externalId : null, displayName: typeof b.displayName === 'string' ? b.displayName : null,
      givenName: name.givenName ?? null, familyName: name.familyName ?? null, email: (emails.find((e) => e.primary) ?? emails[0])?.value ?? null, active: b.active !== false,
      created: new Date().toISOString(), entitlements: new Set(entitlements),
    };
    users.set(u.id, u);
    vendor.sideEffect(`create:${u.userName}`);
    return send(res, 201, userJson(u));
  });
  app.get(`${p}/Users/:id`, (req, res) => {
    const u = users.get(req.params.id!);
    return u ? send(res, 200, userJson(u)) : writeError(res, 404, 'noTarget', 'User not found.');
  });
  app.patch(`${p}/Users/:id`, (req, res) => {
    const u = users.get(req.params.id!);
    if (!u) return writeError(res, 404, 'noTarget', 'User not found.');
    const ops = (req.body as { Operations?: { op?: string; path?: string; value?: unknown }[] }).Operations;
    if (!Array.isArray(ops)) return writeError(res, 400, 'invalidSyntax', 'Operations is required.');
    for (const op of ops) {
      const removeEntitlement = /^entitlements\[value eq "([^"]+)"\]$/.exec(op.path ?? '');
      if (profile.entitlements && op.op?.toLowerCase() === 'remove' && removeEntitlement) {
        u.entitlements.delete(removeEntitlement[1]!);
        continue;
      }
      if (profile.entitlements && op.op?.toLowerCase() === 'add' && op.path === 'entitlements' && Array.isArray(op.value)) {
        for (const e of op.value as { value?: string }[]) {
          if (!e.value || !profile.entitlements.available.includes(e.value)) return writeError(res, 400, 'invalidValue', 'No such entitlement.');
          u.entitlements.add(e.value);
        }
        continue;
      }
      if (op.op?.toLowerCase() !== 'replace' && op.op?.toLowerCase() !== 'add') return writeError(res, 400, 'invalidSyntax', `Unsupported op ${op.op}.`);
      switch (op.path) {
        case 'displayName': u.displayName = String(op.value); break;
        case 'name.givenName': u.givenName = String(op.value); break;
        case 'name.familyName': u.familyName = String(op.value); break;
        case 'externalId': u.externalId = String(op.value); break;
        case 'active': u.active = op.value === true || op.value === 'true' || op.value === 'True'; break;
        case 'emails[type eq "work"].value': u.email = String(op.value); break;
        default: return writeError(res, 400, 'invalidPath', `Unsupported path ${op.path}.`);
      }
    }
    vendor.sideEffect(`patch:${u.userName}:${JSON.stringify(ops)}`);
    return send(res, 200, userJson(u));
  });
  app.delete(`${p}/Users/:id`, (req, res) => {
    const u = users.get(req.params.id!);
    if (!u) return writeError(res, 404, 'noTarget', 'User not found.');
    if (profile.deletion === 'deactivate') u.active = false;
    else users.delete(u.id);
    for (const g of groups.values()) g.members.delete(u.id);
    vendor.sideEffect(`delete:${u.userName}`);
    return res.status(204).end();
  });

  app.get(`${p}/Groups`, (req, res) => {
    let found = [...groups.values()];
    if (typeof req.query.filter === 'string') {
      const both = /^id eq "([^"]+)" and members eq "([^"]+)"$/.exec(req.query.filter);
      const name = eq.exec(req.query.filter);
      if (both && profile.groupMemberFilter) found = found.filter((g) => g.id === both[1] && g.members.has(both[2]!));
      else if (name && name[1] === 'displayName') found = found.filter((g) => g.displayName === name[2]);
      else return writeError(res, 400, 'invalidFilter', 'The filter is not supported.');
    }
    const withMembers = profile.groupsIncludeMembers && req.query.excludedAttributes !== 'members';
    return send(res, 200, list(found.map((g) => groupJson(g, withMembers)), req));
  });
  app.get(`${p}/Groups/:id`, (req, res) => {
    const g = groups.get(req.params.id!);
    return g ? send(res, 200, groupJson(g, profile.groupsIncludeMembers)) : writeError(res, 404, 'noTarget', 'Group not found.');
  });
  app.patch(`${p}/Groups/:id`, (req, res) => {
    const g = groups.get(req.params.id!);
    if (!g) return writeError(res, 404, 'noTarget', 'Group not found.');
    const ops = (req.body as { Operations?: { op?: string; path?: string; value?: { value?: string }[] }[] }).Operations ?? [];
    for (const op of ops) {
      if (op.op?.toLowerCase() === 'add' && op.path === 'members' && Array.isArray(op.value)) {
        if (profile.maxMembersPerPatch && op.value.length > profile.maxMembersPerPatch) return writeError(res, 400, 'tooMany', `At most ${profile.maxMembersPerPatch} members per request.`);
        for (const m of op.value) {
          if (!m.value || !users.has(m.value)) return writeError(res, 400, 'invalidValue', 'Member not found.');
          if (!g.members.has(m.value)) vendor.sideEffect(`member:${g.id}:${m.value}`);
          g.members.add(m.value);
        }
        continue;
      }
      const remove = /^members\[value eq "([^"]+)"\]$/.exec(op.path ?? '');
      if (op.op?.toLowerCase() === 'remove' && remove) {
        if (g.members.delete(remove[1]!)) vendor.sideEffect(`member-remove:${g.id}:${remove[1]}`);
        continue;
      }
      return writeError(res, 400, 'invalidSyntax', 'Unsupported group operation.');
    }
    return res.status(204).end();
  });

  await vendor.start();
  const account = (n: number): AccountSpec => ({
    userName: `user${n}@acme.test`, email: `user${n}@acme.test`, displayName: `User Number${n}`, givenName: 'User', familyName: `Number${n}`, externalId: `portal-${n}`,
  });
  return {
    token,
    plugin: profile.plugin,
    vendor,
    config: profile.config(vendor.url),
    credentials: profile.credentials(token),
    badCredentials: profile.credentials(randomBytes(24).toString('base64url')),
    group: [...groups.keys()][0]!,
    ...(profile.entitlements ? { assignment: profile.entitlements.available.find((e) => e !== profile.entitlements!.requiredOnCreate)! } : {}),
    account,
    pageSize,
    deletion: profile.deletion === 'deactivate' ? 'deactivates' : 'removes',
    seedAccounts(count: number) {
      for (let i = 0; i < count; i += 1) {
        const id = randomUUID();
        users.set(id, { id, userName: `seed-${id}@acme.test`, externalId: null, displayName: 'Seeded', givenName: 'Seeded', familyName: 'User', email: null, active: true, created: new Date().toISOString(), entitlements: new Set() });
      }
    },
    state: {
      account: (userName) => {
        const u = byUserName(userName);
        return u ? { active: u.active } : null;
      },
      isMember: (userName, group) => {
        const u = byUserName(userName);
        return u ? groups.get(group)?.members.has(u.id) ?? false : false;
      },
      hasAssignment: (userName, entitlement) => byUserName(userName)?.entitlements.has(entitlement) ?? false,
    },
    checkAgainstSpec: (exchanges) => checkScimExchanges(exchanges, p),
    close: () => vendor.close(),
  };
}
