/**
 * Checks the Microsoft Graph fake's traffic against what Microsoft publishes on npm about Graph v1.0:
 * - paths: the URI templates of `@microsoft/msgraph-sdk-users` (Kiota request builders generated from
 *   Graph's OpenAPI description), e.g. `{+baseurl}/users/{user%2Did}/assignLicense`;
 * - bodies: every property (and its type) of request and successful response bodies against the entity
 *   types of `@microsoft/microsoft-graph-types` (User, PasswordProfile, AssignedLicense, Group...), read
 *   with the TypeScript compiler, inherited properties included, and every string against the maximum
 *   length its doc comment states (which the fake also enforces, through documentedMaxLength).
 * Not covered by either package, so checked against Graph's reference pages instead (a fixed list below):
 * `/groups...` (no groups SDK package is published) and the `$ref` bodies (`@odata.id`), plus the token
 * endpoint of the Microsoft identity platform and error bodies (https://learn.microsoft.com/en-us/graph/errors).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import type { Exchange } from './fake-vendor';

interface Described {
  templates: RegExp[];
  types: Map<string, { extends: string[]; props: Map<string, string>; maxLengths: Map<string, number> }>;
}

/**
 * Group paths from Graph's reference pages (group-get, group-list, group-post-members, group-delete-members):
 * https://learn.microsoft.com/en-us/graph/api/resources/group?view=graph-rest-1.0
 */
const DOCUMENTED_GROUP_PATHS = [/^\/groups$/, /^\/groups\/[^/]+$/, /^\/groups\/[^/]+\/members\/\$ref$/, /^\/groups\/[^/]+\/members\/[^/]+\/\$ref$/];

let described: Described | null = null;

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsFiles(path);
    return name.endsWith('.js') ? [path] : [];
  });
}

function load(): Described {
  if (described) return described;
  const usersDir = require.resolve('@microsoft/msgraph-sdk-users/package.json').replace(/package\.json$/, '');
  const templates = new Set<string>();
  for (const file of jsFiles(join(usersDir, 'users'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/UriTemplate = "\{\+baseurl\}([^"{]*(?:\{[^?][^}]*\}[^"{]*)*)(?:\{\?[^"]*\})?"/g)) templates.add(m[1]!);
  }
  const typesFile = require.resolve('@microsoft/microsoft-graph-types/microsoft-graph.d.ts');
  const source = ts.createSourceFile('microsoft-graph.d.ts', readFileSync(typesFile, 'utf8'), ts.ScriptTarget.Latest, true);
  const types: Described['types'] = new Map();
  ts.forEachChild(source, (node) => {
    if (!ts.isInterfaceDeclaration(node)) return;
    const props = new Map<string, string>();
    const maxLengths = new Map<string, number>();
    for (const m of node.members) {
      if (!ts.isPropertySignature(m) || !m.type) continue;
      const name = m.name.getText(source).replace(/['"]/g, '');
      props.set(name, m.type.getText(source));
      // The property's doc comment states its limit ("The maximum length is 16 characters.").
      const doc = m.getFullText(source).slice(0, m.getLeadingTriviaWidth(source)).replace(/\s*\*\s*/g, ' ');
      const max = /maximum length is ([\d,]+)/i.exec(doc)?.[1];
      if (max) maxLengths.set(name, Number(max.replace(/,/g, '')));
    }
    const ext = (node.heritageClauses ?? []).flatMap((h) => h.types.map((t) => t.expression.getText(source)));
    types.set(node.name.text, { extends: ext, props, maxLengths });
  });
  described = {
    templates: [...templates].map((t) => new RegExp(`^${t.replace(/\$/g, '\\$').replace(/\{[^}]+\}/g, '[^/]+')}$`)),
    types,
  };
  return described;
}

function propType(types: Described['types'], type: string, prop: string): string | undefined {
  const t = types.get(type);
  if (!t) return undefined;
  return t.props.get(prop) ?? t.extends.map((e) => propType(types, e, prop)).find((p) => p !== undefined);
}

function maxLengthOf(types: Described['types'], type: string, prop: string): number | undefined {
  const t = types.get(type);
  if (!t) return undefined;
  return t.maxLengths.get(prop) ?? t.extends.map((e) => maxLengthOf(types, e, prop)).find((n) => n !== undefined);
}

/** The maximum length Graph documents for a string property of an entity type (`User`, `employeeId` -> 16). */
export function documentedMaxLength(type: string, prop: string): number | undefined {
  return maxLengthOf(load().types, type, prop);
}

function check(value: unknown, type: string, at: string, types: Described['types'], problems: string[]): void {
  const alternatives = type.split('|').map((t) => t.trim()).filter((t) => t !== 'null' && t !== 'undefined');
  if (value === null || alternatives.includes('any')) return;
  const t = alternatives[0] ?? 'any';
  if (t.endsWith('[]')) {
    if (!Array.isArray(value)) problems.push(`${at}: expected an array (${type})`);
    else value.forEach((v, i) => check(v, t.slice(0, -2), `${at}[${i}]`, types, problems));
    return;
  }
  if (['string', 'boolean', 'number'].includes(t) || /^NullableOption<(string|boolean|number)>$/.test(t)) {
    const base = t.replace(/^NullableOption<|>$/g, '');
    if (typeof value !== base) problems.push(`${at}: expected ${base}, got ${typeof value}`);
    return;
  }
  const named = t.replace(/^NullableOption<|>$/g, '');
  if (!types.has(named)) return; // enums and aliases: not checked further
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${at}: expected an object (${named})`);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('@odata.')) continue; // OData control information, https://learn.microsoft.com/en-us/graph/api/overview
    const p = propType(types, named, k);
    const max = maxLengthOf(types, named, k);
    if (p === undefined) problems.push(`${at}.${k}: not a property of ${named}`);
    else check(v, p, `${at}.${k}`, types, problems);
    if (typeof v === 'string' && max !== undefined && v.length > max) problems.push(`${at}.${k}: longer than the documented maximum of ${max}`);
  }
}

/** One line per violation; empty when every exchange conforms. */
export function checkGraphExchanges(exchanges: Exchange[]): string[] {
  const { templates, types } = load();
  const problems: string[] = [];
  for (const x of exchanges) {
    if (x.path.endsWith('/oauth2/v2.0/token')) continue; // the identity platform, not Graph
    const where = `${x.method} ${x.path} -> ${x.status}`;
    if (!x.path.startsWith('/v1.0/')) {
      problems.push(`${where}: not under Graph v1.0`);
      continue;
    }
    const path = x.path.slice('/v1.0'.length);
    const group = DOCUMENTED_GROUP_PATHS.some((p) => p.test(path));
    if (!group && !templates.some((t) => t.test(path))) {
      problems.push(`${where}: not a path of Graph's description`);
      continue;
    }
    const ok = x.status >= 200 && x.status < 300;
    if (group) {
      if (path.endsWith('/members/$ref') && x.method === 'POST') {
        const body = x.requestBody as Record<string, unknown> | null;
        if (!body || Object.keys(body).join() !== '@odata.id' || typeof body['@odata.id'] !== 'string') problems.push(`${where}: a $ref body holds exactly @odata.id`);
      }
      if (ok && x.responseBody !== null && x.method === 'GET') {
        const body = x.responseBody as { value?: unknown[] };
        if (Array.isArray(body.value)) body.value.forEach((g, i) => check(g, 'Group', `${where} value[${i}]`, types, problems));
        else check(body, 'Group', where, types, problems);
      }
      continue;
    }
    if (path.endsWith('/assignLicense')) {
      const body = x.requestBody as { addLicenses?: unknown; removeLicenses?: unknown } | null;
      if (!body || !Array.isArray(body.addLicenses) || !Array.isArray(body.removeLicenses)) problems.push(`${where}: assignLicense takes addLicenses and removeLicenses`);
      else body.addLicenses.forEach((l, i) => check(l, 'AssignedLicense', `${where} addLicenses[${i}]`, types, problems));
    } else if (x.requestBody && typeof x.requestBody === 'object' && Object.keys(x.requestBody).length > 0) {
      check(x.requestBody, 'User', `${where} request`, types, problems);
    }
    if (ok && x.responseBody !== null) {
      const body = x.responseBody as { value?: unknown[] };
      if (Array.isArray(body.value)) body.value.forEach((u, i) => check(u, 'User', `${where} value[${i}]`, types, problems));
      else check(body, 'User', `${where} response`, types, problems);
    }
  }
  return problems;
}
