/**
 * A stateful fake of Google Workspace's Admin SDK Directory API (users, groups, members) and Google's
 * OAuth token endpoint for service accounts: it verifies the RS256 JWT assertion with the service account's
 * public key, issues bearer tokens, answers in Google's shapes (`admin#directory#…` kinds, `nextPageToken`
 * paging, the `{error: {code, message, errors: [{reason}], status}}` envelope), 409 `duplicate` on
 * existing users and members, 404 `notFound`. Its traffic is checked against Google's description of the
 * API (google-workspace.spec-check.ts).
 */
import { generateKeyPairSync, randomBytes, randomUUID, verify } from 'node:crypto';
import type { Request, Response } from 'express';
import { googleWorkspaceConnector } from '../../connectors/google-workspace';
import type { AccountSpec } from '../../connectors/types';
import type { ConformanceFake } from '../support/connector-conformance';
import { FakeVendor, type FakeVendorOptions } from './fake-vendor';
import { checkGoogleExchanges } from './google-workspace.spec-check';

interface User {
  id: string;
  primaryEmail: string;
  givenName: string;
  familyName: string;
  suspended: boolean;
  externalId: string | null;
  creationTime: string;
}

const statusNames: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 409: 'ALREADY_EXISTS', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

export async function startGoogleWorkspaceFake(options: FakeVendorOptions & { pageSize?: number } = {}): Promise<ConformanceFake> {
  const pageSize = options.pageSize ?? 5;
  const domain = 'acme.test';
  const clientEmail = 'portal-provisioning@acme-project.iam.gserviceaccount.com';
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const users = new Map<string, User>();
  const groups = new Map<string, { id: string; email: string; name: string; members: Set<string> }>([
    ['engineering@acme.test', { id: '03ep43zb1', email: 'engineering@acme.test', name: 'Engineering', members: new Set() }],
    ['all@acme.test', { id: '03ep43zb2', email: 'all@acme.test', name: 'Everyone', members: new Set() }],
  ]);
  const tokens = new Set<string>();

  // https://cloud.google.com/apis/design/errors#http_mapping
  const writeError = (res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    const reason = code === 'throttled' ? 'rateLimitExceeded' : code === 'unavailable' ? 'backendError' : code;
    res.status(status).json({ error: { code: status, message, errors: [{ message, domain: 'global', reason }], status: statusNames[status] ?? 'UNKNOWN' } });
  };
  const vendor = new FakeVendor(writeError, options);
  const app = vendor.app;
  let fakeUrl = '';

  app.use((_req, res, next) => {
    res.setHeader('x-goog-request-id', vendor.nextRequestId());
    next();
  });

  // https://developers.google.com/identity/protocols/oauth2/service-account#httprest
  app.post('/token', (req, res) => {
    const invalid = (description: string) => res.status(400).json({ error: 'invalid_grant', error_description: description });
    if (req.body.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || typeof req.body.assertion !== 'string') {
      return res.status(400).json({ error: 'unsupported_grant_type', error_description: 'Invalid grant_type' });
    }
    const [header, claims, signature] = (req.body.assertion as string).split('.');
    if (!header || !claims || !signature) return invalid('Invalid JWT.');
    const ok = verify('RSA-SHA256', Buffer.from(`${header}.${claims}`), keys.publicKey, Buffer.from(signature, 'base64url'));
    if (!ok) return invalid('Invalid JWT Signature.');
    const c = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { iss?: string; sub?: string; aud?: string; scope?: string; exp?: number; iat?: number };
    const now = Math.floor(Date.now() / 1000);
    if (c.iss !== clientEmail || c.aud !== `${fakeUrl}/token`) return invalid('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    if (!c.exp || !c.iat || c.exp <= now || c.exp - c.iat > 3600) return invalid('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    if (!c.sub || !c.scope?.includes('https://www.googleapis.com/auth/admin.directory.user')) return res.status(401).json({ error: 'unauthorized_client', error_description: 'Client is unauthorized to retrieve access tokens using this method.' });
    const token = `ya29.${randomBytes(24).toString('base64url')}`;
    tokens.add(token);
    return res.status(200).json({ access_token: token, expires_in: 3599, token_type: 'Bearer' });
  });

  const base = '/admin/directory/v1';
  app.use(base, (req, res, next) => {
    const auth = req.get('authorization') ?? '';
    if (!auth.startsWith('Bearer ') || !tokens.has(auth.slice(7))) {
      return writeError(res, 401, 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
    }
    return next();
  });

  const userJson = (u: User) => ({
    kind: 'admin#directory#user', id: u.id, etag: `"${u.id}"`, primaryEmail: u.primaryEmail,
    name: { givenName: u.givenName, familyName: u.familyName, fullName: `${u.givenName} ${u.familyName}` },
    isAdmin: false, isDelegatedAdmin: false, lastLoginTime: '1970-01-01T00:00:00.000Z', creationTime: u.creationTime, agreedToTerms: false,
    suspended: u.suspended, archived: false, changePasswordAtNextLogin: false, ipWhitelisted: false,
    ...(u.externalId ? { externalIds: [{ value: u.externalId, type: 'organization' }] } : {}),
    customerId: 'C0fake123', orgUnitPath: '/', isMailboxSetup: true, isEnrolledIn2Sv: false, isEnforcedIn2Sv: false, includeInGlobalAddressList: true,
  });
  const findUser = (key: string) => users.get(key) ?? [...users.values()].find((u) => u.primaryEmail.toLowerCase() === key.toLowerCase());
  const notFound = (res: Response, what: string) => writeError(res, 404, 'notFound', `Resource Not Found: ${what}`);
  const page = <T>(items: T[], req: Request): { slice: T[]; next: string | null } => {
    const max = Math.min(pageSize, Math.max(1, Number(req.query.maxResults ?? 100) || 100));
    const offset = typeof req.query.pageToken === 'string' ? Number(Buffer.from(req.query.pageToken, 'base64url').toString('utf8')) || 0 : 0;
    const slice = items.slice(offset, offset + max);
    return { slice, next: offset + max < items.length ? Buffer.from(String(offset + max)).toString('base64url') : null };
  };
  const applyUser = (u: User, b: Record<string, unknown>) => {
    const name = b.name as { givenName?: string; familyName?: string } | undefined;
    if (name?.givenName !== undefined) u.givenName = name.givenName;
    if (name?.familyName !== undefined) u.familyName = name.familyName;
    if (typeof b.suspended === 'boolean') u.suspended = b.suspended;
    const ext = b.externalIds as { value?: string; type?: string }[] | undefined;
    if (Array.isArray(ext)) u.externalId = ext.find((e) => e.type === 'organization')?.value ?? null;
  };

  // https://developers.google.com/admin-sdk/directory/reference/rest/v1/users
  app.get(`${base}/users`, (req, res) => {
    if (!req.query.customer && !req.query.domain) return writeError(res, 400, 'badRequest', 'Bad Request');
    const { slice, next } = page([...users.values()], req);
    return res.status(200).json({ kind: 'admin#directory#users', etag: '"users"', users: slice.map(userJson), ...(next ? { nextPageToken: next } : {}) });
  });
  app.post(`${base}/users`, (req, res) => {
    const b = req.body as Record<string, unknown>;
    const name = b.name as { givenName?: string; familyName?: string } | undefined;
    if (typeof b.primaryEmail !== 'string' || !name?.givenName || !name.familyName || typeof b.password !== 'string' || b.password.length < 8) {
      return writeError(res, 400, 'invalid', 'Invalid Input');
    }
    if (findUser(b.primaryEmail)) return writeError(res, 409, 'duplicate', 'Entity already exists.');
    const u: User = { id: String(100_000_000_000 + users.size + Math.floor(Math.random() * 1e6)), primaryEmail: b.primaryEmail.toLowerCase(), givenName: '', familyName: '', suspended: false, externalId: null, creationTime: new Date().toISOString() };
    applyUser(u, b);
    users.set(u.id, u);
    vendor.sideEffect(`create:${u.primaryEmail}`);
    return res.status(200).json(userJson(u));
  });
  app.get(`${base}/users/:userKey`, (req, res) => {
    const u = findUser(req.params.userKey!);
    return u ? res.status(200).json(userJson(u)) : notFound(res, 'userKey');
  });
  const update = (req: Request, res: Response) => {
    const u = findUser(String(req.params.userKey));
    if (!u) return notFound(res, 'userKey');
    applyUser(u, req.body as Record<string, unknown>);
    vendor.sideEffect(`update:${u.primaryEmail}:${JSON.stringify(req.body)}`);
    return res.status(200).json(userJson(u));
  };
  app.patch(`${base}/users/:userKey`, update);
  app.put(`${base}/users/:userKey`, update);
  app.delete(`${base}/users/:userKey`, (req, res) => {
    const u = findUser(req.params.userKey!);
    if (!u) return notFound(res, 'userKey');
    users.delete(u.id);
    for (const g of groups.values()) g.members.delete(u.primaryEmail);
    vendor.sideEffect(`delete:${u.primaryEmail}`);
    return res.status(204).end();
  });

  // https://developers.google.com/admin-sdk/directory/reference/rest/v1/groups and /members
  const groupJson = (g: { id: string; email: string; name: string; members: Set<string> }) => ({
    kind: 'admin#directory#group', id: g.id, etag: `"${g.id}"`, email: g.email, name: g.name, directMembersCount: String(g.members.size), description: '', adminCreated: true,
  });
  const findGroup = (key: string) => groups.get(key.toLowerCase()) ?? [...groups.values()].find((g) => g.id === key);
  app.get(`${base}/groups`, (req, res) => {
    const { slice, next } = page([...groups.values()], req);
    return res.status(200).json({ kind: 'admin#directory#groups', etag: '"groups"', groups: slice.map(groupJson), ...(next ? { nextPageToken: next } : {}) });
  });
  app.get(`${base}/groups/:groupKey`, (req, res) => {
    const g = findGroup(req.params.groupKey!);
    return g ? res.status(200).json(groupJson(g)) : notFound(res, 'groupKey');
  });
  const memberJson = (email: string) => {
    const u = findUser(email);
    return { kind: 'admin#directory#member', etag: `"${email}"`, id: u?.id ?? email, email, role: 'MEMBER', type: 'USER', status: 'ACTIVE', delivery_settings: 'ALL_MAIL' };
  };
  app.post(`${base}/groups/:groupKey/members`, (req, res) => {
    const g = findGroup(req.params.groupKey!);
    if (!g) return notFound(res, 'groupKey');
    const email = String((req.body as { email?: string }).email ?? '').toLowerCase();
    if (!email) return writeError(res, 400, 'required', 'Missing required field: member');
    if (g.members.has(email)) return writeError(res, 409, 'duplicate', 'Member already exists.');
    g.members.add(email);
    vendor.sideEffect(`member:${g.email}:${email}`);
    return res.status(200).json(memberJson(email));
  });
  app.delete(`${base}/groups/:groupKey/members/:memberKey`, (req, res) => {
    const g = findGroup(req.params.groupKey!);
    if (!g) return notFound(res, 'groupKey');
    const email = req.params.memberKey!.toLowerCase();
    if (!g.members.delete(email)) return notFound(res, 'memberKey');
    vendor.sideEffect(`member-remove:${g.email}:${email}`);
    return res.status(204).end();
  });
  app.get(`${base}/groups/:groupKey/hasMember/:memberKey`, (req, res) => {
    const g = findGroup(req.params.groupKey!);
    if (!g) return notFound(res, 'groupKey');
    return res.status(200).json({ isMember: g.members.has(req.params.memberKey!.toLowerCase()) });
  });

  fakeUrl = await vendor.start();
  const credentials = { client_email: clientEmail, private_key: privateKey, private_key_id: randomUUID(), token_uri: `${fakeUrl}/token` };
  const account = (n: number): AccountSpec => ({
    userName: `user${n}@${domain}`, email: `user${n}@${domain}`, displayName: `User Number${n}`, givenName: 'User', familyName: `Number${n}`, externalId: `portal-${n}`,
  });
  return {
    plugin: googleWorkspaceConnector as never,
    vendor,
    config: { customer: 'my_customer', domain, subject: `admin@${domain}`, baseUrl: fakeUrl },
    credentials,
    badCredentials: { ...credentials, private_key: otherKey },
    group: 'engineering@acme.test',
    account,
    pageSize,
    seedAccounts(count: number) {
      for (let i = 0; i < count; i += 1) {
        const id = String(200_000_000_000 + users.size + i);
        users.set(id, { id, primaryEmail: `seed-${id}@${domain}`, givenName: 'Seeded', familyName: 'User', suspended: false, externalId: null, creationTime: new Date().toISOString() });
      }
    },
    state: {
      account: (userName) => {
        const u = findUser(userName);
        return u ? { active: !u.suspended } : null;
      },
      isMember: (userName, group) => findGroup(group)?.members.has(userName.toLowerCase()) ?? false,
    },
    checkAgainstSpec: checkGoogleExchanges,
    close: () => vendor.close(),
  };
}
