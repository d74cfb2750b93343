import { z } from 'zod';
import { appendAudit } from '../../db/repositories/audit';
import { addGroupToGroup, addPersonToGroup, listGroupMembers, removeGroupMember } from '../../db/repositories/group-members';
import { missingPersonIds } from '../../db/repositories/people';
import { missingCatalogIds } from '../../db/repositories/catalog';
import { actorOf } from '../context';
import { ApiError } from '../problems';
import { defineRoute } from '../route';
import { groupMemberSchema, pageOf, pageQuery, uuid } from '../schemas';
import { catalogRoutes, requireCatalogObject } from './catalog';

const addMemberBody = z.union([
  z.strictObject({ personId: uuid }),
  z.strictObject({ groupId: uuid }),
]).meta({ id: 'AddGroupMember', description: 'Exactly one of personId or groupId (a nested group)' });

const groupParams = z.strictObject({ groupId: uuid });

export const groupRoutes = [
  ...catalogRoutes({ table: 'groups', plural: 'groups', singular: 'group', label: 'Group', view: 'portal.groups.view', manage: 'portal.groups.manage' }),
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/groups/:groupId/members', tag: 'groups',
    summary: 'Add a person or a nested group to a group (adding an existing member succeeds with 200)',
    permission: 'portal.groups.manage', tenantScoped: true, params: groupParams, body: addMemberBody,
    responses: {
      201: { description: 'Added', schema: groupMemberSchema },
      200: { description: 'Already a member', schema: groupMemberSchema },
    },
    handler: async ({ params, body, caller, tenant, deps, requestId }) => {
      await requireCatalogObject(deps.db, 'groups', tenant.id, params.groupId, 'Group');
      const result = await deps.db.transaction().execute(async (tx) => {
        let outcome;
        if ('personId' in body) {
          if ((await missingPersonIds(tx, tenant.id, [body.personId])).length > 0) {
            throw new ApiError('reference_not_found', `Person ${body.personId} was not found.`, [{ path: 'body.personId', message: 'no such person in this tenant' }]);
          }
          outcome = await addPersonToGroup(tx, { tenantId: tenant.id, groupId: params.groupId, personId: body.personId });
        } else {
          if ((await missingCatalogIds(tx, 'groups', tenant.id, [body.groupId])).length > 0) {
            throw new ApiError('reference_not_found', `Group ${body.groupId} was not found.`, [{ path: 'body.groupId', message: 'no such group in this tenant' }]);
          }
          outcome = await addGroupToGroup(tx, { tenantId: tenant.id, groupId: params.groupId, childGroupId: body.groupId });
        }
        if (outcome.created) {
          await appendAudit(tx, {
            tenantId: tenant.id, actor: actorOf(caller), action: 'group.member_added', target: { kind: 'group', id: params.groupId },
            details: { memberId: outcome.member.id, member: outcome.member.member }, requestId,
          });
        }
        return outcome;
      });
      return { status: result.created ? 201 : 200, body: result.member };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/groups/:groupId/members', tag: 'groups', summary: 'List the direct members of a group',
    permission: 'portal.groups.view', tenantScoped: true, params: groupParams, query: z.strictObject(pageQuery),
    responses: { 200: { description: 'A page of members', schema: pageOf(groupMemberSchema) } },
    handler: async ({ params, query, tenant, deps }) => {
      await requireCatalogObject(deps.db, 'groups', tenant.id, params.groupId, 'Group');
      return { status: 200, body: await listGroupMembers(deps.db, tenant.id, params.groupId, query.cursor ?? null, query.limit) };
    },
  }),
  defineRoute({
    method: 'delete', path: '/v1/tenants/:tenantId/groups/:groupId/members/:memberId', tag: 'groups',
    summary: 'Remove a member; the access it conferred is revoked',
    permission: 'portal.groups.manage', tenantScoped: true, params: z.strictObject({ groupId: uuid, memberId: uuid }),
    responses: { 204: { description: 'Removed' } },
    handler: async ({ params, caller, tenant, deps, requestId }) => {
      await deps.db.transaction().execute(async (tx) => {
        const removed = await removeGroupMember(tx, { tenantId: tenant.id, groupId: params.groupId, memberId: params.memberId });
        if (!removed) throw new ApiError('not_found', `Member ${params.memberId} of group ${params.groupId} was not found.`);
        await appendAudit(tx, {
          tenantId: tenant.id, actor: actorOf(caller), action: 'group.member_removed', target: { kind: 'group', id: params.groupId },
          details: { memberId: removed.id, member: removed.member }, requestId,
        });
      });
      return { status: 204 };
    },
  }),
];
