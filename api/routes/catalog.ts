import { z } from 'zod';
import { appendAudit } from '../../db/repositories/audit';
import { type CatalogTable, createCatalogObject, getCatalogObject, listCatalogObjects } from '../../db/repositories/catalog';
import { actorOf } from '../context';
import type { Permission } from '../permissions';
import { ApiError } from '../problems';
import { defineRoute } from '../route';
import { catalogObjectSchema, description, name, pageOf, pageQuery, uuid } from '../schemas';

interface CatalogResource {
  table: CatalogTable;
  /** URL segment and audit target kind, e.g. `roles` / `role`. */
  plural: string;
  singular: string;
  label: string;
  view: Permission;
  manage: Permission;
}

/** Create / list / read routes for a named, tenant-scoped access target (group, role, application). */
export function catalogRoutes(r: CatalogResource) {
  const schema = catalogObjectSchema.meta({ id: r.label });
  const idParam = `${r.singular}Id`;
  const base = `/v1/tenants/:tenantId/${r.plural}`;
  return [
    defineRoute({
      method: 'post', path: base, tag: r.plural, summary: `Create a ${r.singular}`,
      permission: r.manage, tenantScoped: true,
      body: z.strictObject({ name, description }).meta({ id: `Create${r.label}` }),
      responses: { 201: { description: 'Created', schema, headers: { Location: `The ${r.singular}` } } },
      handler: async ({ body, caller, tenant, deps, requestId }) => {
        const created = await deps.db.transaction().execute(async (tx) => {
          const obj = await createCatalogObject(tx, r.table, { tenantId: tenant.id, name: body.name, description: body.description ?? null });
          if (!obj) throw new ApiError('name_taken', `A ${r.singular} named ${JSON.stringify(body.name)} exists.`);
          await appendAudit(tx, {
            tenantId: tenant.id, actor: actorOf(caller), action: `${r.singular}.created`, target: { kind: r.singular, id: obj.id },
            details: { name: obj.name }, requestId,
          });
          return obj;
        });
        return { status: 201, body: created, headers: { Location: `${base.replace(':tenantId', tenant.id)}/${created.id}` } };
      },
    }),
    defineRoute({
      method: 'get', path: base, tag: r.plural, summary: `List ${r.plural}`, permission: r.view, tenantScoped: true,
      query: z.strictObject({ ...pageQuery, name: z.string().max(200).optional() }),
      responses: { 200: { description: `A page of ${r.plural}`, schema: pageOf(schema) } },
      handler: async ({ query, tenant, deps }) => ({
        status: 200, body: await listCatalogObjects(deps.db, r.table, tenant.id, { name: query.name }, query.cursor ?? null, query.limit),
      }),
    }),
    defineRoute({
      method: 'get', path: `${base}/:${idParam}`, tag: r.plural, summary: `Read a ${r.singular}`, permission: r.view, tenantScoped: true,
      params: z.strictObject({ [idParam]: uuid }),
      responses: { 200: { description: `The ${r.singular}`, schema } },
      handler: async ({ params, tenant, deps }) => {
        const id = (params as Record<string, string>)[idParam] as string;
        const obj = await getCatalogObject(deps.db, r.table, tenant.id, id);
        if (!obj) throw new ApiError('not_found', `${r.label} ${id} was not found.`);
        return { status: 200, body: obj };
      },
    }),
  ];
}

/** Loads a catalog object of the path's tenant or answers 404. */
export async function requireCatalogObject(db: Parameters<typeof getCatalogObject>[0], table: CatalogTable, tenantId: string, id: string, label: string) {
  const obj = await getCatalogObject(db, table, tenantId, id);
  if (!obj) throw new ApiError('not_found', `${label} ${id} was not found.`);
  return obj;
}
