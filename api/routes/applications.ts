import { z } from 'zod';
import { assignApplication, listAppAssignments } from '../../db/repositories/app-assignments';
import { appendAudit } from '../../db/repositories/audit';
import { missingPersonIds } from '../../db/repositories/people';
import { actorOf } from '../context';
import { ApiError } from '../problems';
import { defineRoute } from '../route';
import { appAssignmentSchema, pageOf, pageQuery, uuid } from '../schemas';
import { catalogRoutes, requireCatalogObject } from './catalog';

const appParams = z.strictObject({ applicationId: uuid });

export const roleRoutes = catalogRoutes({
  table: 'roles', plural: 'roles', singular: 'role', label: 'Role', view: 'portal.roles.view', manage: 'portal.roles.manage',
});

export const applicationRoutes = [
  ...catalogRoutes({
    table: 'applications', plural: 'applications', singular: 'application', label: 'Application',
    view: 'portal.applications.view', manage: 'portal.applications.manage',
  }),
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/applications/:applicationId/assignments', tag: 'applications',
    summary: 'Assign a person to an application (an existing assignment succeeds with 200)',
    permission: 'portal.applications.manage', tenantScoped: true, params: appParams,
    body: z.strictObject({ personId: uuid }).meta({ id: 'CreateAppAssignment' }),
    responses: { 201: { description: 'Assigned', schema: appAssignmentSchema }, 200: { description: 'Already assigned', schema: appAssignmentSchema } },
    handler: async ({ params, body, caller, tenant, deps, requestId }) => {
      await requireCatalogObject(deps.db, 'applications', tenant.id, params.applicationId, 'Application');
      const result = await deps.db.transaction().execute(async (tx) => {
        if ((await missingPersonIds(tx, tenant.id, [body.personId])).length > 0) {
          throw new ApiError('reference_not_found', `Person ${body.personId} was not found.`, [{ path: 'body.personId', message: 'no such person in this tenant' }]);
        }
        const outcome = await assignApplication(tx, { tenantId: tenant.id, applicationId: params.applicationId, personId: body.personId });
        if (outcome.created) {
          await appendAudit(tx, {
            tenantId: tenant.id, actor: actorOf(caller), action: 'application.assigned', target: { kind: 'application', id: params.applicationId },
            details: { assignmentId: outcome.assignment.id, personId: body.personId }, requestId,
          });
        }
        return outcome;
      });
      return { status: result.created ? 201 : 200, body: result.assignment };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/applications/:applicationId/assignments', tag: 'applications',
    summary: 'List the assignments of an application',
    permission: 'portal.applications.view', tenantScoped: true, params: appParams, query: z.strictObject(pageQuery),
    responses: { 200: { description: 'A page of assignments', schema: pageOf(appAssignmentSchema) } },
    handler: async ({ params, query, tenant, deps }) => {
      await requireCatalogObject(deps.db, 'applications', tenant.id, params.applicationId, 'Application');
      return { status: 200, body: await listAppAssignments(deps.db, tenant.id, params.applicationId, query.cursor ?? null, query.limit) };
    },
  }),
];
