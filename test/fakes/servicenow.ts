/**
 * A stateful fake of ServiceNow's Table API for `sys_user`, `sys_user_group`, `sys_user_grmember`,
 * `sys_user_role` and `sys_user_has_role`: encoded `sysparm_query` (`field=value^field=value`),
 * `sysparm_fields`, `sysparm_limit` / `sysparm_offset` paging with `Link` and `X-Total-Count`, every value a
 * string, `{result}` envelopes, `{error: {message, detail}, status: "failure"}` errors, basic or bearer auth.
 * ServiceNow publishes no machine-readable description of the Table API on a registry reachable here; the
 * check below follows the reference page:
 * https://docs.servicenow.com/bundle/washingtondc-api-reference/page/integrate/inbound-rest/concept/c_TableAPI.html
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { servicenowConnector } from '../../connectors/servicenow';
import type { AccountSpec } from '../../connectors/types';
import type { ConformanceFake } from '../support/connector-conformance';
import type { Exchange } from './fake-vendor';
import { FakeVendor, type FakeVendorOptions } from './fake-vendor';

const TABLES = ['sys_user', 'sys_user_group', 'sys_user_grmember', 'sys_user_role', 'sys_user_has_role'] as const;
type Row = Record<string, string>;
const sysId = () => randomUUID().replace(/-/g, '');

/** Table API shape per the reference page: documented tables, methods, sysparm parameters, `{result}` bodies. */
export function checkServicenowExchanges(exchanges: Exchange[]): string[] {
  const problems: string[] = [];
  const params = new Set(['sysparm_query', 'sysparm_fields', 'sysparm_limit', 'sysparm_offset', 'sysparm_display_value', 'sysparm_exclude_reference_link']);
  for (const x of exchanges) {
    const where = `${x.method} ${x.path} -> ${x.status}`;
    const m = /^\/api\/now\/table\/([a-z_]+)(\/[^/]+)?$/.exec(x.path);
    if (!m || !(TABLES as readonly string[]).includes(m[1]!)) {
      problems.push(`${where}: not a Table API path on a table Portal uses`);
      continue;
    }
    const allowed = m[2] ? ['GET', 'PUT', 'PATCH', 'DELETE'] : ['GET', 'POST'];
    if (!allowed.includes(x.method)) problems.push(`${where}: method not in the Table API for this path`);
    for (const k of Object.keys(x.query)) if (!params.has(k)) problems.push(`${where}: query parameter ${k} is not a Table API parameter`);
    const body = x.responseBody as { result?: unknown; error?: unknown; status?: unknown } | null;
    if (x.status >= 200 && x.status < 300 && x.status !== 204 && (!body || !('result' in body))) problems.push(`${where}: success without a result envelope`);
    if (x.status >= 400 && (!body || typeof body.error !== 'object' || body.status !== 'failure')) problems.push(`${where}: error without {error, status: "failure"}`);
    const request = x.requestBody as Record<string, unknown> | null;
    if (request) for (const [k, v] of Object.entries(request)) if (typeof v !== 'string') problems.push(`${where}: field ${k} sent as ${typeof v}, the Table API takes strings`);
  }
  return problems;
}

export async function startServicenowFake(options: FakeVendorOptions & { pageSize?: number } = {}): Promise<ConformanceFake> {
  const pageSize = options.pageSize ?? 5;
  const password = randomBytes(12).toString('base64url');
  const tables = new Map<string, Map<string, Row>>(TABLES.map((t) => [t, new Map()]));
  const group = { sys_id: sysId(), name: 'Service Desk' };
  tables.get('sys_user_group')!.set(group.sys_id, group);
  const role = { sys_id: sysId(), name: 'itil' };
  tables.get('sys_user_role')!.set(role.sys_id, role);

  const writeError = (res: Response, status: number, _code: string, message: string, headers: Record<string, string> = {}) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.status(status).json({ error: { message, detail: message }, status: 'failure' });
  };
  const vendor = new FakeVendor(writeError, options);
  const app = vendor.app;
  app.use((req, res, next) => {
    res.setHeader('x-transaction-id', vendor.nextRequestId());
    const auth = req.get('authorization');
    if (auth !== `Basic ${Buffer.from(`portal.integration:${password}`).toString('base64')}`) {
      return res.status(401).json({ error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' }, status: 'failure' });
    }
    return next();
  });

  const notFound = (res: Response) => res.status(404).json({ error: { message: 'No Record found', detail: "Record doesn't exist or ACL restricts the record retrieval" }, status: 'failure' });
  const project = (row: Row, req: Request) => {
    const fields = typeof req.query.sysparm_fields === 'string' ? req.query.sysparm_fields.split(',') : null;
    return fields ? Object.fromEntries(fields.map((f) => [f, row[f] ?? ''])) : row;
  };
  const matches = (row: Row, query: string | undefined) =>
    !query || query.split('^').every((term) => {
      const [k, v] = term.split('=');
      return k !== undefined && (row[k] ?? '').toLowerCase() === (v ?? '').toLowerCase();
    });
  const table = (req: Request) => tables.get(String(req.params.table));

  app.get('/api/now/table/:table', (req, res) => {
    const t = table(req);
    if (!t) return notFound(res);
    const rows = [...t.values()].filter((r) => matches(r, typeof req.query.sysparm_query === 'string' ? req.query.sysparm_query : undefined));
    const limit = Math.min(pageSize, Math.max(1, Number(req.query.sysparm_limit ?? 10_000) || pageSize));
    const offset = Math.max(0, Number(req.query.sysparm_offset ?? 0) || 0);
    res.setHeader('X-Total-Count', String(rows.length));
    if (offset + limit < rows.length) {
      const next = new URL(`${vendor.url}${req.path}`);
      for (const [k, v] of Object.entries(req.query)) next.searchParams.set(k, String(v));
      next.searchParams.set('sysparm_limit', String(limit));
      next.searchParams.set('sysparm_offset', String(offset + limit));
      res.setHeader('Link', `<${next.toString()}>;rel="next"`);
    }
    return res.status(200).json({ result: rows.slice(offset, offset + limit).map((r) => project(r, req)) });
  });
  app.get('/api/now/table/:table/:id', (req, res) => {
    const row = table(req)?.get(String(req.params.id));
    return row ? res.status(200).json({ result: project(row, req) }) : notFound(res);
  });
  app.post('/api/now/table/:table', (req, res) => {
    const t = table(req);
    if (!t) return notFound(res);
    const body = Object.fromEntries(Object.entries(req.body as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    if (req.params.table === 'sys_user' && [...t.values()].some((r) => r.user_name?.toLowerCase() === body.user_name?.toLowerCase())) {
      return res.status(403).json({ error: { message: 'Operation Failed', detail: 'Error during insert of sys_user' }, status: 'failure' });
    }
    // Defaults the instance fills in: users are active, a directly granted role is not inherited.
    const defaults: Row = req.params.table === 'sys_user' ? { active: 'true' } : req.params.table === 'sys_user_has_role' ? { inherited: 'false' } : {};
    const row: Row = { sys_id: sysId(), ...defaults, ...body };
    t.set(row.sys_id!, row);
    vendor.sideEffect(`insert:${req.params.table}:${JSON.stringify(body)}`);
    return res.status(201).json({ result: row });
  });
  app.patch('/api/now/table/:table/:id', (req, res) => {
    const row = table(req)?.get(String(req.params.id));
    if (!row) return notFound(res);
    for (const [k, v] of Object.entries(req.body as Record<string, unknown>)) row[k] = String(v);
    vendor.sideEffect(`update:${req.params.table}:${row.sys_id}:${JSON.stringify(req.body)}`);
    return res.status(200).json({ result: row });
  });
  app.delete('/api/now/table/:table/:id', (req, res) => {
    const t = table(req);
    const row = t?.get(String(req.params.id));
    if (!t || !row) return notFound(res);
    t.delete(row.sys_id!);
    if (req.params.table === 'sys_user') {
      for (const link of ['sys_user_grmember', 'sys_user_has_role']) for (const [id, r] of tables.get(link)!) if (r.user === row.sys_id) tables.get(link)!.delete(id);
    }
    vendor.sideEffect(`delete:${req.params.table}:${row.sys_id}`);
    return res.status(204).end();
  });

  await vendor.start();
  const findUser = (userName: string) => [...tables.get('sys_user')!.values()].find((r) => r.user_name?.toLowerCase() === userName.toLowerCase());
  const account = (n: number): AccountSpec => ({
    userName: `user${n}@acme.test`, email: `user${n}@acme.test`, displayName: `User Number${n}`, givenName: 'User', familyName: `Number${n}`, externalId: `portal-${n}`,
  });
  return {
    plugin: servicenowConnector as never,
    vendor,
    config: { instanceUrl: vendor.url },
    credentials: { username: 'portal.integration', password },
    badCredentials: { username: 'portal.integration', password: `${password}-wrong` },
    group: group.sys_id,
    assignment: role.sys_id,
    account,
    pageSize,
    seedAccounts(count: number) {
      for (let i = 0; i < count; i += 1) {
        const id = sysId();
        tables.get('sys_user')!.set(id, { sys_id: id, user_name: `seed-${id}`, first_name: 'Seeded', last_name: 'User', email: '', active: 'true', employee_number: '' });
      }
    },
    state: {
      account: (userName) => {
        const u = findUser(userName);
        return u ? { active: u.active !== 'false' } : null;
      },
      isMember: (userName, groupId) => {
        const u = findUser(userName);
        return Boolean(u && [...tables.get('sys_user_grmember')!.values()].some((r) => r.user === u.sys_id && r.group === groupId));
      },
      hasAssignment: (userName, roleId) => {
        const u = findUser(userName);
        return Boolean(u && [...tables.get('sys_user_has_role')!.values()].some((r) => r.user === u.sys_id && r.role === roleId));
      },
    },
    checkAgainstSpec: checkServicenowExchanges,
    close: () => vendor.close(),
  };
}
