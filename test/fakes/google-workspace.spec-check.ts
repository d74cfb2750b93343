/**
 * Checks the Google Workspace fake's traffic against Google's published description of the Directory API.
 * The raw discovery document is not on npm; `@googleapis/admin` is Google's client generated from it, and
 * carries the same facts: every method's HTTP verb and path template (`build/directory_v1.js`) and every
 * schema's property names and types (`Schema$User`, `Schema$Member`... in `build/directory_v1.d.ts`, read
 * with the TypeScript compiler). Each exchange must be a described method on a described path, and its
 * request and successful response bodies may hold only described properties, of the described types.
 * Not covered by the discovery document: the OAuth token endpoint (RFC 7523, documented at
 * https://developers.google.com/identity/protocols/oauth2/service-account) and error bodies (Google's
 * standard envelope, https://cloud.google.com/apis/design/errors), which the fake follows from those pages.
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import type { Exchange } from './fake-vendor';

interface Described {
  methods: { method: string; pattern: RegExp; template: string }[];
  schemas: Map<string, Map<string, string>>;
}

let described: Described | null = null;

function load(): Described {
  if (described) return described;
  const dir = require.resolve('@googleapis/admin/build/directory_v1.js').replace(/directory_v1\.js$/, '');
  const js = readFileSync(`${dir}directory_v1.js`, 'utf8');
  const methods: Described['methods'] = [];
  for (const m of js.matchAll(/url:\s*\(rootUrl\s*\+\s*'(\/admin\/directory\/v1\/[^']+)'\)[\s\S]*?method:\s*'([A-Z]+)'/g)) {
    const template = m[1]!;
    // `{+name}` templates (Chrome printer resources) would match any path; Portal uses none of them.
    if (template.includes('{+')) continue;
    methods.push({ method: m[2]!, template, pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`) });
  }
  const source = ts.createSourceFile('directory_v1.d.ts', readFileSync(`${dir}directory_v1.d.ts`, 'utf8'), ts.ScriptTarget.Latest, true);
  const schemas = new Map<string, Map<string, string>>();
  const visit = (node: ts.Node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text.startsWith('Schema$')) {
      const props = new Map<string, string>();
      for (const member of node.members) {
        if (ts.isPropertySignature(member) && member.name && member.type) props.set(member.name.getText(source).replace(/['"]/g, ''), member.type.getText(source));
      }
      schemas.set(node.name.text, props);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  described = { methods, schemas };
  return described;
}

/** Problems with `value` as an instance of the described type text (`string | null`, `Schema$X[]`, ...). */
function check(value: unknown, type: string, at: string, schemas: Described['schemas'], problems: string[]): void {
  const alternatives = type.split('|').map((t) => t.trim()).filter((t) => t !== 'null' && t !== 'undefined');
  if (value === null || alternatives.includes('any') || alternatives.some((t) => t.startsWith('{'))) return;
  const t = alternatives[0] ?? 'any';
  if (t.endsWith('[]')) {
    if (!Array.isArray(value)) problems.push(`${at}: expected an array (${type})`);
    else value.forEach((v, i) => check(v, t.slice(0, -2), `${at}[${i}]`, schemas, problems));
    return;
  }
  if (t === 'string' || t === 'boolean' || t === 'number') {
    if (typeof value !== t) problems.push(`${at}: expected ${t}, got ${typeof value}`);
    return;
  }
  const schema = schemas.get(t);
  if (!schema) return;
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${at}: expected an object (${t})`);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const propType = schema.get(k);
    if (propType === undefined) problems.push(`${at}.${k}: not a property of ${t}`);
    else check(v, propType, `${at}.${k}`, schemas, problems);
  }
}

/** Which schema describes the body of a method: the discovery document's `request` / `response`. */
function bodySchemas(method: string, template: string): { request?: string; response?: string } {
  const t = template.replace('/admin/directory/v1', '');
  if (t === '/users') return method === 'POST' ? { request: 'Schema$User', response: 'Schema$User' } : { response: 'Schema$Users' };
  if (t === '/users/{userKey}') return method === 'DELETE' ? {} : { request: method === 'GET' ? undefined : 'Schema$User', response: 'Schema$User' };
  if (t === '/groups') return method === 'GET' ? { response: 'Schema$Groups' } : { request: 'Schema$Group', response: 'Schema$Group' };
  if (t === '/groups/{groupKey}') return method === 'DELETE' ? {} : { response: 'Schema$Group' };
  if (t === '/groups/{groupKey}/members') return method === 'POST' ? { request: 'Schema$Member', response: 'Schema$Member' } : { response: 'Schema$Members' };
  if (t === '/groups/{groupKey}/members/{memberKey}') return method === 'DELETE' ? {} : { response: 'Schema$Member' };
  if (t === '/groups/{groupKey}/hasMember/{memberKey}') return { response: 'Schema$MembersHasMember' };
  return {};
}

/** One line per violation; empty when every exchange conforms. */
export function checkGoogleExchanges(exchanges: Exchange[]): string[] {
  const { methods, schemas } = load();
  const problems: string[] = [];
  for (const x of exchanges) {
    if (x.path === '/token') continue; // the OAuth endpoint: not part of the Directory API's description
    const where = `${x.method} ${x.path} -> ${x.status}`;
    const m = methods.find((d) => d.method === x.method && d.pattern.test(x.path));
    if (!m) {
      problems.push(`${where}: not a method of the Directory API's description`);
      continue;
    }
    const { request, response } = bodySchemas(m.method, m.template);
    if (request && x.requestBody && typeof x.requestBody === 'object' && Object.keys(x.requestBody).length > 0) check(x.requestBody, request, `${where} request`, schemas, problems);
    if (response && x.status >= 200 && x.status < 300 && x.responseBody !== null) check(x.responseBody, response, `${where} response`, schemas, problems);
  }
  return problems;
}
