/**
 * Checks SCIM traffic against the protocol's own published description, RFC 7643 (schemas) and RFC 7644
 * (protocol): only the endpoints and methods of §3 on /Users and /Groups, request bodies holding only
 * core User / Group attributes (§4.1, §4.2 of RFC 7643) or a PatchOp message (§3.5.2 of RFC 7644) with
 * add / remove / replace operations, and responses shaped as a resource, a ListResponse (§3.4.2) or an
 * Error (§3.12). Vendor-specific bodies (their error envelopes) are checked by each fake's profile.
 */
import type { Exchange } from './fake-vendor';

const USER_ATTRIBUTES = new Set([
  'schemas', 'id', 'externalId', 'meta', 'userName', 'name', 'displayName', 'nickName', 'profileUrl', 'title', 'userType', 'preferredLanguage',
  'locale', 'timezone', 'active', 'password', 'emails', 'phoneNumbers', 'ims', 'photos', 'addresses', 'groups', 'entitlements', 'roles', 'x509Certificates',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
]);
const NAME_ATTRIBUTES = new Set(['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix']);
const GROUP_ATTRIBUTES = new Set(['schemas', 'id', 'externalId', 'meta', 'displayName', 'members']);
const LIST_ATTRIBUTES = new Set(['schemas', 'totalResults', 'Resources', 'startIndex', 'itemsPerPage']);

function unknownKeys(value: unknown, allowed: Set<string>): string[] {
  return value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value).filter((k) => !allowed.has(k)) : [];
}

/** One line per violation; empty when every exchange conforms. */
export function checkScimExchanges(exchanges: Exchange[], prefix: string): string[] {
  const problems: string[] = [];
  for (const x of exchanges) {
    const where = `${x.method} ${x.path} -> ${x.status}`;
    if (!x.path.startsWith(`${prefix}/`)) {
      problems.push(`${where}: outside the service provider's base URL`);
      continue;
    }
    const rest = x.path.slice(prefix.length);
    const resource = /^\/(Users|Groups)(\/[^/]+)?$/.exec(rest);
    if (!resource) {
      problems.push(`${where}: not a SCIM endpoint used by Portal`);
      continue;
    }
    const [, type, id] = resource;
    const allowedMethods = id ? ['GET', 'PUT', 'PATCH', 'DELETE'] : ['GET', 'POST'];
    if (!allowedMethods.includes(x.method)) problems.push(`${where}: method not defined for this endpoint by RFC 7644 §3`);
    const body = x.requestBody as Record<string, unknown> | null;
    if (body && Object.keys(body).length > 0) {
      if (x.method === 'PATCH') {
        const ops = body.Operations as { op?: string }[] | undefined;
        if (!Array.isArray(body.schemas) || !(body.schemas as string[]).includes('urn:ietf:params:scim:api:messages:2.0:PatchOp')) problems.push(`${where}: PATCH without the PatchOp schema`);
        if (!Array.isArray(ops) || ops.some((o) => !['add', 'remove', 'replace'].includes(String(o.op).toLowerCase()))) problems.push(`${where}: PatchOp operations must be add, remove or replace`);
      } else {
        for (const k of unknownKeys(body, type === 'Users' ? USER_ATTRIBUTES : GROUP_ATTRIBUTES)) problems.push(`${where}: request attribute ${k} is not in RFC 7643's ${type === 'Users' ? 'User' : 'Group'}`);
        if (type === 'Users') for (const k of unknownKeys(body.name, NAME_ATTRIBUTES)) problems.push(`${where}: name.${k} is not a sub-attribute of name`);
      }
    }
    const res = x.responseBody as Record<string, unknown> | null;
    if (x.status >= 200 && x.status < 300 && res) {
      const schemas = (res.schemas ?? []) as string[];
      if (schemas.includes('urn:ietf:params:scim:api:messages:2.0:ListResponse')) {
        for (const k of unknownKeys(res, LIST_ATTRIBUTES)) problems.push(`${where}: ListResponse attribute ${k} is not in RFC 7644 §3.4.2`);
        if (typeof res.totalResults !== 'number') problems.push(`${where}: ListResponse without totalResults`);
      } else {
        for (const k of unknownKeys(res, type === 'Users' ? USER_ATTRIBUTES : GROUP_ATTRIBUTES)) problems.push(`${where}: response attribute ${k} is not in RFC 7643`);
        if (typeof res.id !== 'string') problems.push(`${where}: a resource without id`);
      }
    }
  }
  return problems;
}
