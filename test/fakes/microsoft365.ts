/**
 * A stateful fake of Microsoft Graph v1.0 (users, groups and their members, licences) and of the Microsoft
 * identity platform's client-credentials token endpoint, with Graph's quirks: a taken userPrincipalName is
 * `400 Request_BadRequest` (not 409), adding an existing member is `400` "One or more added object
 * references already exist", licences need a usageLocation, `@odata.nextLink` paging with `$skiptoken`,
 * `$select` projection, `request-id` headers and Graph's error envelope. Its traffic is checked against
 * Microsoft's published Graph metadata (microsoft365.spec-check.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { microsoft365Connector } from '../../connectors/microsoft365';
import type { AccountSpec } from '../../connectors/types';
import type { ConformanceFake } from '../support/connector-conformance';
import { FakeVendor, type FakeVendorOptions } from './fake-vendor';
import { checkGraphExchanges, documentedMaxLength } from './microsoft365.spec-check';

interface User {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  mail: string | null;
  employeeId: string | null;
  accountEnabled: boolean;
  createdDateTime: string;
  usageLocation: string | null;
  licenses: Set<string>;
}

/** Microsoft 365 E5's SKU id, as `subscribedSkus` lists it. */
const E5 = '06ebc4ee-1bb5-47dd-8120-11324bc54e06';

export async function startMicrosoft365Fake(options: FakeVendorOptions & { pageSize?: number } = {}): Promise<ConformanceFake> {
  const pageSize = options.pageSize ?? 5;
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const clientSecret = `${randomBytes(20).toString('base64url')}~Q8`;
  const users = new Map<string, User>();
  const groups = new Map<string, { id: string; displayName: string; members: Set<string> }>();
  for (const name of ['Engineering', 'All Staff']) {
    const id = randomUUID();
    groups.set(id, { id, displayName: name, members: new Set() });
  }
  const tokens = new Set<string>();
  let graph = '';

  // https://learn.microsoft.com/en-us/graph/errors
  const writeError = (res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}, details?: { target: string; code: string }[]) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    const graphCode = code === 'throttled' ? 'TooManyRequests' : code === 'unavailable' ? 'serviceNotAvailable' : code;
    res.status(status).json({ error: { code: graphCode, message, ...(details ? { details } : {}), innerError: { date: new Date().toISOString(), 'request-id': String(res.getHeader('request-id') ?? ''), 'client-request-id': String(res.getHeader('client-request-id') ?? '') } } });
  };
  const vendor = new FakeVendor(writeError, options);
  const app = vendor.app;

  app.use((req, res, next) => {
    const id = vendor.nextRequestId();
    res.setHeader('request-id', id);
    res.setHeader('client-request-id', req.get('client-request-id') ?? id);
    next();
  });

  // https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
  app.post('/:tenant/oauth2/v2.0/token', (req, res) => {
    const b = req.body as Record<string, string>;
    if (req.params.tenant !== tenantId) return res.status(400).json({ error: 'invalid_request', error_description: `AADSTS90002: Tenant '${req.params.tenant}' not found.` });
    if (b.grant_type !== 'client_credentials' || b.scope !== 'https://graph.microsoft.com/.default') return res.status(400).json({ error: 'invalid_request', error_description: 'AADSTS900144: The request body must contain the following parameter: \'grant_type\'.' });
    if (b.client_id !== clientId || b.client_secret !== clientSecret) {
      return res.status(401).json({ error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.', error_codes: [7000215] });
    }
    const token = `eyJ0eXAiOiJKV1Qi.${randomBytes(24).toString('base64url')}`;
    tokens.add(token);
    return res.status(200).json({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
  });

  app.use('/v1.0', (req, res, next) => {
    const auth = req.get('authorization') ?? '';
    if (!auth.startsWith('Bearer ') || !tokens.has(auth.slice(7))) return writeError(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    return next();
  });

  const full = (u: User): Record<string, unknown> => ({
    id: u.id, userPrincipalName: u.userPrincipalName, displayName: u.displayName, givenName: u.givenName, surname: u.surname, mail: u.mail,
    employeeId: u.employeeId, accountEnabled: u.accountEnabled, createdDateTime: u.createdDateTime, usageLocation: u.usageLocation, businessPhones: [], jobTitle: null, mobilePhone: null,
    officeLocation: null, preferredLanguage: null, assignedLicenses: [...u.licenses].map((skuId) => ({ skuId, disabledPlans: [] })),
  });
  /** `$select` projection (Graph returns only the selected properties, plus id). */
  const project = (u: User, req: Request) => {
    const all = full(u);
    const select = typeof req.query.$select === 'string' ? req.query.$select.split(',') : ['id', 'userPrincipalName', 'displayName', 'givenName', 'surname', 'mail', 'businessPhones', 'jobTitle', 'mobilePhone', 'officeLocation', 'preferredLanguage'];
    return Object.fromEntries(Object.entries(all).filter(([k]) => k === 'id' || select.includes(k)));
  };
  const find = (key: string) => users.get(key) ?? [...users.values()].find((u) => u.userPrincipalName.toLowerCase() === decodeURIComponent(key).toLowerCase());
  const notFound = (res: Response, key: string) => writeError(res, 404, 'Request_ResourceNotFound', `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`);
  const pageOf = <T>(items: T[], req: Request, path: string) => {
    const top = Math.min(pageSize, Math.max(1, Number(req.query.$top ?? 100) || 100));
    const skip = typeof req.query.$skiptoken === 'string' ? Number(Buffer.from(req.query.$skiptoken, 'base64url').toString('utf8')) || 0 : 0;
    const slice = items.slice(skip, skip + top);
    const select = typeof req.query.$select === 'string' ? `&$select=${req.query.$select}` : '';
    const next = skip + top < items.length ? `${graph}${path}?$top=${top}${select}&$skiptoken=${Buffer.from(String(skip + top)).toString('base64url')}` : null;
    return { slice, next };
  };

  // https://learn.microsoft.com/en-us/graph/api/resources/user?view=graph-rest-1.0
  app.get('/v1.0/users', (req, res) => {
    const { slice, next } = pageOf([...users.values()], req, '/users');
    return res.status(200).json({ '@odata.context': `${graph}/$metadata#users`, value: slice.map((u) => project(u, req)), ...(next ? { '@odata.nextLink': next } : {}) });
  });
  /**
   * Graph refuses a string longer than the user resource documents (employeeId 16, displayName 256,
   * mailNickname 64...: the limits are read from Microsoft's published types) with 400 Request_BadRequest
   * naming the property.
   */
  const tooLong = (res: Response, b: Record<string, unknown>): boolean => {
    const over = Object.entries(b).find(([k, v]) => typeof v === 'string' && v.length > (documentedMaxLength('User', k) ?? Infinity));
    if (!over) return false;
    writeError(res, 400, 'Request_BadRequest', `Invalid value specified for property '${over[0]}' of resource 'User'.`, {}, [{ target: over[0], code: 'InvalidLength' }]);
    return true;
  };

  app.post('/v1.0/users', (req, res) => {
    const b = req.body as Record<string, unknown>;
    if (tooLong(res, b)) return undefined;
    const password = (b.passwordProfile as { password?: string } | undefined)?.password;
    if (typeof b.accountEnabled !== 'boolean' || typeof b.displayName !== 'string' || typeof b.mailNickname !== 'string' || typeof b.userPrincipalName !== 'string' || !password) {
      return writeError(res, 400, 'Request_BadRequest', 'Invalid value specified for property of resource User.');
    }
    if (find(b.userPrincipalName)) return writeError(res, 400, 'Request_BadRequest', 'Another object with the same value for property userPrincipalName already exists.');
    const u: User = {
      id: randomUUID(), userPrincipalName: b.userPrincipalName, displayName: b.displayName, givenName: (b.givenName as string) ?? null, surname: (b.surname as string) ?? null,
      mail: (b.mail as string) ?? null, employeeId: (b.employeeId as string) ?? null, accountEnabled: b.accountEnabled, createdDateTime: new Date().toISOString(),
      usageLocation: (b.usageLocation as string) ?? null, licenses: new Set(),
    };
    users.set(u.id, u);
    vendor.sideEffect(`create:${u.userPrincipalName}`);
    return res.status(201).json({ '@odata.context': `${graph}/$metadata#users/$entity`, ...full(u) });
  });
  app.get('/v1.0/users/:key', (req, res) => {
    const u = find(req.params.key!);
    return u ? res.status(200).json(project(u, req)) : notFound(res, req.params.key!);
  });
  app.patch('/v1.0/users/:key', (req, res) => {
    const u = find(req.params.key!);
    if (!u) return notFound(res, req.params.key!);
    const b = req.body as Record<string, unknown>;
    if (tooLong(res, b)) return undefined;
    for (const k of ['displayName', 'givenName', 'surname', 'mail', 'employeeId', 'usageLocation'] as const) if (typeof b[k] === 'string') u[k] = b[k] as string;
    if (typeof b.accountEnabled === 'boolean') u.accountEnabled = b.accountEnabled;
    vendor.sideEffect(`update:${u.userPrincipalName}:${JSON.stringify(b)}`);
    return res.status(204).end();
  });
  app.delete('/v1.0/users/:key', (req, res) => {
    const u = find(req.params.key!);
    if (!u) return notFound(res, req.params.key!);
    users.delete(u.id);
    for (const g of groups.values()) g.members.delete(u.id);
    vendor.sideEffect(`delete:${u.userPrincipalName}`);
    return res.status(204).end();
  });
  // https://learn.microsoft.com/en-us/graph/api/user-assignlicense?view=graph-rest-1.0
  app.post('/v1.0/users/:key/assignLicense', (req, res) => {
    const u = find(req.params.key!);
    if (!u) return notFound(res, req.params.key!);
    const b = req.body as { addLicenses?: { skuId?: string }[]; removeLicenses?: string[] };
    if (!Array.isArray(b.addLicenses) || !Array.isArray(b.removeLicenses)) return writeError(res, 400, 'Request_BadRequest', 'Invalid request.');
    if (b.addLicenses.length > 0 && !u.usageLocation) return writeError(res, 400, 'Request_BadRequest', 'Invalid usage location.');
    for (const l of b.addLicenses) if (l.skuId !== E5) return writeError(res, 400, 'Request_BadRequest', `License ${l.skuId} does not correspond to a valid company License.`);
    for (const l of b.addLicenses) {
      if (!u.licenses.has(l.skuId!)) vendor.sideEffect(`license:${u.userPrincipalName}:${l.skuId}`);
      u.licenses.add(l.skuId!);
    }
    for (const skuId of b.removeLicenses) u.licenses.delete(skuId);
    return res.status(200).json({ '@odata.context': `${graph}/$metadata#users/$entity`, ...full(u) });
  });

  // https://learn.microsoft.com/en-us/graph/api/resources/group?view=graph-rest-1.0
  const groupJson = (g: { id: string; displayName: string }) => ({ id: g.id, displayName: g.displayName, mailEnabled: false, securityEnabled: true, mailNickname: g.displayName.toLowerCase().replace(/\s+/g, '-') });
  app.get('/v1.0/groups', (req, res) => {
    const { slice, next } = pageOf([...groups.values()], req, '/groups');
    return res.status(200).json({ '@odata.context': `${graph}/$metadata#groups`, value: slice.map(groupJson), ...(next ? { '@odata.nextLink': next } : {}) });
  });
  app.get('/v1.0/groups/:id', (req, res) => {
    const g = groups.get(req.params.id!);
    return g ? res.status(200).json(groupJson(g)) : notFound(res, req.params.id!);
  });
  app.post('/v1.0/groups/:id/members/\\$ref', (req, res) => {
    const g = groups.get(req.params.id!);
    if (!g) return notFound(res, req.params.id!);
    const ref = String((req.body as Record<string, unknown>)['@odata.id'] ?? '');
    const userId = /\/directoryObjects\/([^/]+)$/.exec(ref)?.[1];
    if (!userId || !users.has(userId)) return notFound(res, userId ?? ref);
    if (g.members.has(userId)) return writeError(res, 400, 'Request_BadRequest', "One or more added object references already exist for the following modified properties: 'members'.");
    g.members.add(userId);
    vendor.sideEffect(`member:${g.id}:${userId}`);
    return res.status(204).end();
  });
  app.delete('/v1.0/groups/:id/members/:userId/\\$ref', (req, res) => {
    const g = groups.get(req.params.id!);
    if (!g) return notFound(res, req.params.id!);
    if (!g.members.delete(req.params.userId!)) return notFound(res, req.params.userId!);
    vendor.sideEffect(`member-remove:${g.id}:${req.params.userId}`);
    return res.status(204).end();
  });

  const url = await vendor.start();
  graph = `${url}/v1.0`;
  const account = (n: number): AccountSpec => ({
    userName: `user${n}@acme.test`, email: `user${n}@acme.test`, displayName: `User Number${n}`, givenName: 'User', familyName: `Number${n}`,
    // Portal's person id, as a grant sets it: longer than Graph's employeeId allows.
    externalId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  });
  const firstGroup = [...groups.keys()][0]!;
  return {
    plugin: microsoft365Connector as never,
    vendor,
    config: { tenantId, usageLocation: 'GB', authorityHost: url, graphBaseUrl: graph },
    credentials: { clientId, clientSecret },
    badCredentials: { clientId, clientSecret: `${clientSecret}x` },
    group: firstGroup,
    assignment: E5,
    account,
    pageSize,
    seedAccounts(count: number) {
      for (let i = 0; i < count; i += 1) {
        const id = randomUUID();
        users.set(id, { id, userPrincipalName: `seed-${id}@acme.test`, displayName: 'Seeded', givenName: null, surname: null, mail: null, employeeId: null, accountEnabled: true, createdDateTime: '2020-01-01T00:00:00Z', usageLocation: null, licenses: new Set() });
      }
    },
    state: {
      account: (userName) => {
        const u = find(userName);
        return u ? { active: u.accountEnabled } : null;
      },
      isMember: (userName, group) => {
        const u = find(userName);
        return u ? groups.get(group)?.members.has(u.id) ?? false : false;
      },
      hasAssignment: (userName, skuId) => find(userName)?.licenses.has(skuId) ?? false,
    },
    checkAgainstSpec: checkGraphExchanges,
    close: () => vendor.close(),
  };
}
