/**
 * Checks the GitHub fake's traffic against GitHub's own OpenAPI description of GitHub Enterprise Cloud
 * (`ghec.json` in `@octokit/openapi`): every exchange must be a documented method on a documented path, its
 * request body must validate against the operation's request schema, and its status must be documented,
 * with the response body validating against that status's schema.
 * Not covered by the description, so allowed: 502/503/504 (GitHub returns them in outages; the description
 * lists only 500) and the OAuth-less token check (there is none: PATs are sent as bearer tokens).
 */
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Exchange } from './fake-vendor';

interface Operation {
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

const INFRASTRUCTURE_STATUSES = new Set([502, 503, 504]);

let loaded: { paths: { template: string; pattern: RegExp; ops: Record<string, Operation> }[]; ajv: Ajv } | null = null;

/** Rewrites local `$ref`s to the registered `ghec` document. */
function rebase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rebase);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `ghec${v}` : rebase(v)]));
  }
  return value;
}

function load() {
  if (loaded) return loaded;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const spec = require('@octokit/openapi/generated/ghec.json') as { paths: Record<string, Record<string, Operation>>; components: unknown };
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'ghec', components: rebase(spec.components) });
  // Only the paths Portal uses, so compiling stays cheap.
  const used = Object.keys(spec.paths).filter((p) => p.startsWith('/scim/v2/enterprises/') || p.startsWith('/orgs/{org}/teams') || p.startsWith('/orgs/{org}/memberships/'));
  const paths = used.map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    ops: spec.paths[template] as Record<string, Operation>,
  }));
  loaded = { paths, ajv };
  return loaded;
}

const compiled = new Map<unknown, ValidateFunction>();
function validator(ajv: Ajv, schema: unknown): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(rebase(schema) as object);
    compiled.set(schema, v);
  }
  return v;
}

/** One line per violation; empty when every exchange conforms. */
export function checkGithubExchanges(exchanges: Exchange[]): string[] {
  const { paths, ajv } = load();
  const problems: string[] = [];
  for (const x of exchanges) {
    const where = `${x.method} ${x.path} -> ${x.status}`;
    const path = paths.find((p) => p.pattern.test(x.path));
    const op = path?.ops[x.method.toLowerCase()];
    if (!path || !op) {
      problems.push(`${where}: not an operation of GitHub's description`);
      continue;
    }
    const requestSchema = op.requestBody ? Object.values(op.requestBody.content)[0]?.schema : undefined;
    if (requestSchema && x.requestBody && typeof x.requestBody === 'object' && Object.keys(x.requestBody).length > 0) {
      const v = validator(ajv, requestSchema);
      if (!v(x.requestBody)) problems.push(`${where}: request body: ${ajv.errorsText(v.errors)}`);
    }
    if (INFRASTRUCTURE_STATUSES.has(x.status)) continue;
    const response = op.responses[String(x.status)];
    if (!response) {
      problems.push(`${where}: status not documented for ${path.template}`);
      continue;
    }
    const responseSchema = response.content ? Object.values(response.content)[0]?.schema : undefined;
    if (responseSchema && x.responseBody !== null) {
      const v = validator(ajv, responseSchema);
      if (!v(x.responseBody)) problems.push(`${where}: response body: ${ajv.errorsText(v.errors)}`);
    }
  }
  return problems;
}
