/**
 * A stateful fake of Zoho Mail's organization API and Zoho Accounts' token endpoint: users
 * (`/api/organization/{zoid}/accounts`), groups and their members (`/groups/{zgid}`), `{status: {code,
 * description}, data}` envelopes on every answer, errors as `{status, data: {errorCode, moreInfo}}`, `mode`
 * bodies on PUT, DELETE with a JSON body, start/limit paging (accounts from 0, groups from 1, at most 25),
 * 64-bit ids (accountId as a string), `Zoho-oauthtoken` auth, and the token endpoint's habit of answering a
 * bad refresh token with 200 and `{error: "invalid_code"}`.
 * Zoho publishes no machine-readable description of the Mail API; the check below follows its reference
 * pages (https://www.zoho.com/mail/help/api/, one per call, cited in connectors/zoho-mail/index.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { zohoMailConnector } from '../../connectors/zoho-mail';
import type { AccountSpec } from '../../connectors/types';
import type { ConformanceFake } from '../support/connector-conformance';
import type { Exchange } from './fake-vendor';
import { FakeVendor, type FakeVendorOptions } from './fake-vendor';

const ZOID = '60012345';

interface ZohoUser {
  zuid: number;
  accountId: string;
  primaryEmailAddress: string;
  firstName: string;
  lastName: string;
  displayName: string;
  role: string;
  status: boolean;
  mailboxStatus: 'enabled' | 'disabled';
  accountCreationTime: number;
}

interface ZohoGroup {
  zgid: number;
  name: string;
  emailId: string;
  members: Set<string>;
}

/** What each documented call may carry, from its reference page. */
const PUT_ACCOUNT_MODES: Record<string, { required: string[]; optional: string[] }> = {
  // put-to-enable-user.html
  enableUser: { required: ['zuid', 'mode', 'unblockIncoming'], optional: [] },
  // put-to-disable-user.html
  disableUser: { required: ['zuid', 'mode'], optional: ['blockIncoming', 'removeMailforward', 'removeGroupMembership', 'removeAlias'] },
  // update-user-personal-info.html
  updatePersonalInfo: { required: ['zuid', 'mode'], optional: ['displayName', 'gender', 'country', 'phoneNumer', 'mobileNumber', 'address'] },
};
// post-add-user-to-org.html
const ADD_USER_FIELDS = {
  required: ['primaryEmailAddress', 'password'],
  optional: ['firstName', 'lastName', 'displayName', 'userExpiry', 'role', 'country', 'language', 'timeZone', 'oneTimePassword', 'groupMailList'],
};
// group-add-member.html / delete-group-members.html
const GROUP_MODES: Record<string, string[]> = { addMailGroupMember: ['memberEmailId', 'role', 'zuid'], deleteMailGroupMember: ['memberEmailId'] };

/** Each exchange against the reference pages: documented paths, methods, query parameters, bodies and envelopes. */
export function checkZohoMailExchanges(exchanges: Exchange[]): string[] {
  const problems: string[] = [];
  const fields = (where: string, body: Record<string, unknown>, required: string[], optional: string[]) => {
    for (const k of required) if (!(k in body)) problems.push(`${where}: required field ${k} missing`);
    for (const k of Object.keys(body)) if (!required.includes(k) && !optional.includes(k)) problems.push(`${where}: field ${k} is not documented`);
  };
  for (const x of exchanges) {
    const where = `${x.method} ${x.path} -> ${x.status}`;
    const body = (x.requestBody ?? {}) as Record<string, unknown>;
    if (x.path === '/oauth/v2/token') {
      // https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html
      if (x.method !== 'POST') problems.push(`${where}: the token endpoint takes POST`);
      fields(where, body, ['grant_type', 'client_id', 'client_secret', 'refresh_token'], []);
      if (body.grant_type !== 'refresh_token') problems.push(`${where}: grant_type must be refresh_token`);
      continue;
    }
    const m = /^\/api\/organization\/(\d+)\/(accounts|groups)(?:\/([^/]+))?$/.exec(x.path);
    if (!m) {
      problems.push(`${where}: not a documented organization path`);
      continue;
    }
    const [, , collection, item] = m;
    const query = Object.keys(x.query);
    if (collection === 'accounts' && !item) {
      if (x.method === 'GET') {
        for (const k of query) if (!['start', 'limit'].includes(k)) problems.push(`${where}: query ${k} is not documented`);
      } else if (x.method === 'POST') {
        fields(where, body, ADD_USER_FIELDS.required, ADD_USER_FIELDS.optional);
      } else if (x.method === 'DELETE') {
        if (!Array.isArray(body.accountList) && !Array.isArray(body.emailList)) problems.push(`${where}: needs accountList or emailList`);
        fields(where, body, [], ['accountList', 'emailList']);
      } else {
        problems.push(`${where}: method not documented for /accounts`);
      }
    } else if (collection === 'accounts') {
      if (x.method === 'PUT') {
        if (!/^\d+$/.test(item!)) problems.push(`${where}: PUT takes the numeric accountId`);
        const mode = PUT_ACCOUNT_MODES[String(body.mode)];
        if (!mode) problems.push(`${where}: mode ${String(body.mode)} is not a documented account mode`);
        else fields(where, body, mode.required, mode.optional);
      } else if (x.method !== 'GET') {
        problems.push(`${where}: method not documented for /accounts/{id}`);
      }
      if (query.length > 0) problems.push(`${where}: no query parameters are documented here`);
    } else if (!item) {
      if (x.method !== 'GET') problems.push(`${where}: method not documented for /groups`);
      for (const k of query) if (!['start', 'limit', 'searchKey', 'fields'].includes(k)) problems.push(`${where}: query ${k} is not documented`);
      if (Number(x.query.limit ?? 25) > 25) problems.push(`${where}: groups list at most 25 a page`);
    } else {
      if (!/^\d+$/.test(item)) problems.push(`${where}: a group is named by its numeric zgid`);
      if (x.method === 'PUT') {
        const allowed = GROUP_MODES[String(body.mode)];
        if (!allowed) problems.push(`${where}: mode ${String(body.mode)} is not a documented group mode`);
        const list = body.mailGroupMemberList;
        if (!Array.isArray(list) || list.length === 0) problems.push(`${where}: mailGroupMemberList required`);
        else if (allowed) for (const entry of list as Record<string, unknown>[]) fields(where, entry, ['memberEmailId'], allowed.filter((k) => k !== 'memberEmailId'));
        fields(where, body, ['mode', 'mailGroupMemberList'], []);
      } else if (x.method !== 'GET') {
        problems.push(`${where}: method not documented for /groups/{zgid}`);
      }
    }
    const response = x.responseBody as { status?: { code?: unknown; description?: unknown }; data?: unknown } | null;
    if (!response || typeof response.status?.code !== 'number' || typeof response.status.description !== 'string') {
      problems.push(`${where}: answer without the {status: {code, description}} envelope`);
    } else if (response.status.code !== x.status) {
      problems.push(`${where}: envelope code ${response.status.code} differs from the HTTP status`);
    }
    if (x.method === 'GET' && x.status === 200 && response?.data === undefined) problems.push(`${where}: success without data`);
  }
  return problems;
}

export interface ZohoMailFake extends ConformanceFake {
  /** Moves an account's creation time into the past (a mailbox that was there before Portal). */
  ageAccount(userName: string, days: number): void;
}

export async function startZohoMailFake(options: FakeVendorOptions & { pageSize?: number } = {}): Promise<ZohoMailFake> {
  const pageSize = options.pageSize ?? 5;
  const clientSecret = randomBytes(16).toString('hex');
  const refreshToken = `1000.${randomBytes(24).toString('hex')}`;
  const tokens = new Set<string>();
  const users = new Map<number, ZohoUser>();
  const groups = new Map<number, ZohoGroup>();
  let nextId = 70_000_000;
  const newZuid = () => (nextId += 1);
  const salesGroup: ZohoGroup = { zgid: 853_476, name: 'Sales', emailId: 'sales@acme.test', members: new Set() };
  groups.set(salesGroup.zgid, salesGroup);
  for (let i = 0; i < 3; i += 1) groups.set(900_000 + i, { zgid: 900_000 + i, name: `Team ${i}`, emailId: `team${i}@acme.test`, members: new Set() });

  const send = (res: Response, status: number, data?: unknown, description = status < 300 ? 'success' : 'Invalid Input') =>
    res.status(status).json({ status: { code: status, description }, ...(data === undefined ? {} : { data }) });
  const writeError = (res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    send(res, status, { errorCode: code.toUpperCase(), moreInfo: message }, message);
  };
  const vendor = new FakeVendor(writeError, options);
  const app = vendor.app;

  // Zoho Accounts: the refresh-token grant. A refused grant is 200 with {error}, as Zoho answers it.
  app.post('/oauth/v2/token', (req, res) => {
    const body = req.body as Record<string, string>;
    if (body.grant_type !== 'refresh_token' || body.client_id !== 'portal-client' || body.client_secret !== clientSecret || body.refresh_token !== refreshToken) {
      return res.status(200).json({ error: 'invalid_code' });
    }
    const token = `1000.${randomBytes(16).toString('hex')}`;
    tokens.add(token);
    return res.status(200).json({ access_token: token, api_domain: 'https://www.zohoapis.com', token_type: 'Bearer', expires_in: 3600 });
  });
  app.use('/api', (req, res, next) => {
    const auth = req.get('authorization') ?? '';
    if (!auth.startsWith('Zoho-oauthtoken ') || !tokens.has(auth.slice('Zoho-oauthtoken '.length))) {
      return writeError(res, 401, 'INVALID_OAUTHTOKEN', 'Invalid OAuth access token');
    }
    return next();
  });
  app.use('/api/organization/:zoid', (req, res, next) => (req.params.zoid === ZOID ? next() : writeError(res, 404, 'ORG_NOT_FOUND', 'No such organization')));

  const view = (u: ZohoUser) => ({
    zuid: u.zuid, accountId: u.accountId, primaryEmailAddress: u.primaryEmailAddress, mailboxAddress: u.primaryEmailAddress,
    emailAddress: [{ mailId: u.primaryEmailAddress, isPrimary: true, isAlias: false, isConfirmed: true }],
    firstName: u.firstName, lastName: u.lastName, displayName: u.displayName, role: u.role, status: u.status, mailboxStatus: u.mailboxStatus,
    accountCreationTime: u.accountCreationTime, type: 'ZOHO_ACCOUNT', URI: `${vendor.url}/api/organization/${ZOID}/accounts/${u.accountId}`,
  });
  const byEmail = (email: string) => [...users.values()].find((u) => u.primaryEmailAddress.toLowerCase() === email.toLowerCase());
  const byKey = (key: string) => (/^\d+$/.test(key) ? users.get(Number(key)) ?? [...users.values()].find((u) => u.accountId === key) : byEmail(key));
  const userNotFound = (res: Response) => writeError(res, 404, 'USER_NOT_EXIST', 'No such user in the organization');
  const page = <T>(items: T[], req: Request, first: number, max: number) => {
    const start = Math.max(first, Number(req.query.start ?? first) || first);
    const limit = Math.min(max, pageSize, Math.max(1, Number(req.query.limit ?? 10) || 10));
    return items.slice(start - first, start - first + limit);
  };

  const base = '/api/organization/:zoid';
  app.get(`${base}/accounts`, (req, res) => send(res, 200, page([...users.values()], req, 0, 1000).map(view)));
  app.get(`${base}/accounts/:key`, (req, res) => {
    const u = byKey(String(req.params.key));
    return u ? send(res, 200, view(u)) : userNotFound(res);
  });
  app.post(`${base}/accounts`, (req, res) => {
    const body = req.body as Record<string, unknown>;
    const email = String(body.primaryEmailAddress ?? '');
    if (!/^[^@\s]+@acme\.test$/i.test(email) || typeof body.password !== 'string') return writeError(res, 400, 'INVALID_INPUT', 'primaryEmailAddress must be on a verified domain; password required');
    if (byEmail(email)) return writeError(res, 400, 'EMAIL_ALREADY_EXIST', 'The email address already exists');
    const zuid = newZuid();
    const u: ZohoUser = {
      zuid, accountId: `25606360000000${zuid}`, primaryEmailAddress: email, firstName: String(body.firstName ?? ''), lastName: String(body.lastName ?? ''),
      displayName: String(body.displayName ?? email.split('@')[0]), role: String(body.role ?? 'member'), status: true, mailboxStatus: 'enabled', accountCreationTime: Date.now(),
    };
    users.set(zuid, u);
    vendor.sideEffect(`create:${email.toLowerCase()}`);
    return send(res, 201, view(u));
  });
  app.put(`${base}/accounts/:accountId`, (req, res) => {
    const body = req.body as Record<string, unknown>;
    const u = [...users.values()].find((x) => x.accountId === req.params.accountId);
    if (!u || u.zuid !== Number(body.zuid)) return userNotFound(res);
    if (body.mode === 'enableUser' || body.mode === 'disableUser') {
      u.status = body.mode === 'enableUser';
      vendor.sideEffect(`${body.mode}:${u.primaryEmailAddress}`);
    } else if (body.mode === 'updatePersonalInfo') {
      if (typeof body.displayName === 'string') u.displayName = body.displayName;
      vendor.sideEffect(`updatePersonalInfo:${u.primaryEmailAddress}:${JSON.stringify(body.displayName)}`);
    } else {
      return writeError(res, 400, 'INVALID_MODE', 'Unsupported mode');
    }
    return send(res, 200);
  });
  app.delete(`${base}/accounts`, (req, res) => {
    const body = req.body as { accountList?: unknown[]; emailList?: unknown[] };
    const targets = [...(body.accountList ?? []).map((z) => users.get(Number(z))), ...(body.emailList ?? []).map((e) => byEmail(String(e)))];
    if (targets.length === 0 || targets.some((u) => !u)) return userNotFound(res);
    for (const u of targets as ZohoUser[]) {
      users.delete(u.zuid);
      for (const g of groups.values()) g.members.delete(u.primaryEmailAddress.toLowerCase());
      vendor.sideEffect(`delete:${u.primaryEmailAddress}`);
    }
    return send(res, 200);
  });

  const groupView = (g: ZohoGroup) => ({
    zgid: g.zgid, name: g.name, emailId: g.emailId, groupMemberCount: g.members.size, accessType: 'Organization',
    mailGroupMemberList: [...g.members].map((email) => ({ memberEmailId: email, role: 'member', status: 'active', zuid: byEmail(email)?.zuid ?? null })),
  });
  app.get(`${base}/groups`, (req, res) => send(res, 200, { count: groups.size, groups: page([...groups.values()], req, 1, 25).map(groupView) }));
  app.get(`${base}/groups/:zgid`, (req, res) => {
    const g = groups.get(Number(req.params.zgid));
    return g ? send(res, 200, groupView(g)) : writeError(res, 404, 'GROUP_NOT_EXIST', 'No such group');
  });
  app.put(`${base}/groups/:zgid`, (req, res) => {
    const g = groups.get(Number(req.params.zgid));
    if (!g) return writeError(res, 404, 'GROUP_NOT_EXIST', 'No such group');
    const body = req.body as { mode?: string; mailGroupMemberList?: { memberEmailId?: string }[] };
    for (const entry of body.mailGroupMemberList ?? []) {
      const email = String(entry.memberEmailId ?? '').toLowerCase();
      if (body.mode === 'addMailGroupMember') g.members.add(email);
      else if (body.mode === 'deleteMailGroupMember') g.members.delete(email);
      else return writeError(res, 400, 'INVALID_MODE', 'Unsupported mode');
      vendor.sideEffect(`${body.mode}:${g.zgid}:${email}`);
    }
    return send(res, 200);
  });

  await vendor.start();
  const account = (n: number): AccountSpec => ({
    userName: `user${n}@acme.test`, email: `user${n}@acme.test`, displayName: `User Number${n}`, givenName: 'User', familyName: `Number${n}`, externalId: `portal-${n}`,
  });
  return {
    plugin: zohoMailConnector as never,
    vendor,
    config: { zoid: ZOID, mailBaseUrl: vendor.url, accountsUrl: vendor.url },
    credentials: { clientId: 'portal-client', clientSecret, refreshToken },
    badCredentials: { clientId: 'portal-client', clientSecret, refreshToken: `1000.${randomBytes(24).toString('hex')}` },
    group: String(salesGroup.zgid),
    account,
    pageSize,
    seedAccounts(count: number) {
      for (let i = 0; i < count; i += 1) {
        const zuid = newZuid();
        users.set(zuid, {
          zuid, accountId: `25606360000000${zuid}`, primaryEmailAddress: `seed-${zuid}@acme.test`, firstName: 'Seeded', lastName: 'User', displayName: 'Seeded User',
          role: 'member', status: true, mailboxStatus: 'enabled', accountCreationTime: Date.now() - 90 * 24 * 3600 * 1000,
        });
      }
    },
    state: {
      account: (userName) => {
        const u = byEmail(userName);
        return u ? { active: u.status } : null;
      },
      isMember: (userName, zgid) => Boolean(groups.get(Number(zgid))?.members.has(userName.toLowerCase())),
    },
    checkAgainstSpec: checkZohoMailExchanges,
    ageAccount(userName, days) {
      const u = byEmail(userName);
      if (u) u.accountCreationTime -= days * 24 * 3600 * 1000;
    },
    close: () => vendor.close(),
  };
}
