import { createDocument } from 'zod-openapi';
import { z } from 'zod';
import { problemSchema } from './problems';
import type { RouteDef } from './route';

/** The OpenAPI 3.1 document, generated from the same route declarations the router enforces. */
export function buildOpenApiDocument(routes: readonly RouteDef[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const pathParams = r.tenantScoped ? (r.params ?? z.object({})).extend({ tenantId: z.uuid() }) : r.params;
    const responses: Record<string, unknown> = {};
    for (const [status, resp] of Object.entries(r.responses)) {
      responses[status] = {
        description: resp.description,
        ...(resp.schema ? { content: { 'application/json': { schema: resp.schema } } } : {}),
        ...(resp.headers ? { headers: Object.fromEntries(Object.entries(resp.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) } : {}),
      };
    }
    responses.default = { description: 'Error (RFC 9457 problem details)', content: { 'application/problem+json': { schema: problemSchema } } };
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[r.method] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.permission ? { description: `Requires the ${[r.permission].flat().map((p) => `\`${p}\``).join(' or ')} permission.` } : {}),
      requestParams: {
        ...(pathParams ? { path: pathParams } : {}),
        ...(r.query ? { query: r.query } : {}),
        ...(r.headers ? { header: r.headers } : {}),
      },
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.body } } } } : {}),
      responses,
    };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Portal API',
      version: '1',
      description: 'Identity governance: tenants, people, groups, roles, applications, access edges and audit.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Portal API token' } } },
    security: [{ bearer: [] }],
    paths: paths as never,
  });
}
