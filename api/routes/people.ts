import { WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { appendAudit } from '../../db/repositories/audit';
import { missingCatalogIds } from '../../db/repositories/catalog';
import { idFromKey, newId } from '../../db/repositories/ids';
import { getPerson, insertPendingPerson, listPeople, type Person } from '../../db/repositories/people';
import type { personSetup } from '../../workflows';
import { personSetupWorkflowId, type PersonSetupInput } from '../../workflows/person-setup.types';
import { PortalPersonId, PortalTenantId } from '../../workflows/search-attributes';
import { actorOf, type ApiDeps } from '../context';
import { ApiError } from '../problems';
import { defineRoute } from '../route';
import { idempotencyHeaders, pageOf, pageQuery, personSchema, profileSchema, uuid } from '../schemas';
import { listCustomAttributes } from '../../db/repositories/profile-attributes';
import { validateProfileValues } from '../../workflows/profile-schema';

const createPersonBody = z.strictObject({
  displayName: z.string().trim().min(1).max(200),
  email: z.email().max(320).nullable().optional(),
  profile: profileSchema.optional(),
  groupIds: z.array(uuid).max(100).optional(),
}).meta({ id: 'CreatePerson' });

const personParams = z.strictObject({ personId: uuid });

/** The setup outcome of a person: from the database once active; from Temporal only while pending. */
async function setupOf(deps: ApiDeps, person: Person) {
  if (person.status === 'active' || !person.setupWorkflowId) {
    return { workflowId: person.setupWorkflowId, status: person.status === 'active' ? 'completed' : 'pending', failure: null } as const;
  }
  try {
    const desc = await deps.temporal.client.workflow.getHandle(person.setupWorkflowId).describe();
    if (['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED'].includes(desc.status.name)) {
      return { workflowId: person.setupWorkflowId, status: 'failed', failure: `setup workflow ${desc.status.name.toLowerCase()}` } as const;
    }
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) deps.logger.warn({ err, workflowId: person.setupWorkflowId }, 'could not describe setup workflow');
  }
  return { workflowId: person.setupWorkflowId, status: 'pending', failure: null } as const;
}

async function personBody(deps: ApiDeps, person: Person) {
  const { setupWorkflowId: _shownInSetup, ...rest } = person;
  return { ...rest, setup: await setupOf(deps, person) };
}

export const peopleRoutes = [
  defineRoute({
    method: 'post', path: '/v1/tenants/:tenantId/people', tag: 'people',
    summary: 'Create a person; a workflow sets up their membership, groups and access (202, then poll Location)',
    permission: 'portal.people.manage', tenantScoped: true, body: createPersonBody, headers: idempotencyHeaders,
    responses: { 202: { description: 'Accepted: the person is pending until setup completes', schema: personSchema, headers: { Location: 'The person' } } },
    handler: async ({ body, caller, tenant, deps, requestId, req, log }) => {
      const invalid = validateProfileValues(body.profile ?? {}, await listCustomAttributes(deps.db, tenant.id)).errors;
      if (invalid.length > 0) {
        throw new ApiError('validation_failed', 'The profile has invalid values.', invalid.map((e) => ({ path: `body.profile.${e.attribute}`, message: e.reason })));
      }
      const groupIds = [...new Set(body.groupIds ?? [])];
      const missing = await missingCatalogIds(deps.db, 'groups', tenant.id, groupIds);
      if (missing.length > 0) {
        throw new ApiError('reference_not_found', `Groups not found: ${missing.join(', ')}.`,
          missing.map((id) => ({ path: `body.groupIds[${groupIds.indexOf(id)}]`, message: `group ${id} does not exist in this tenant` })));
      }
      const key = req.get('idempotency-key');
      const personId = key ? idFromKey(`person:${tenant.id}`, key) : newId();
      const workflowId = personSetupWorkflowId(tenant.id, personId);
      const input: PersonSetupInput = {
        tenantId: tenant.id, personId, displayName: body.displayName, email: body.email ?? null, profile: body.profile ?? {},
        groupIds, actor: actorOf(caller), requestId,
      };
      // Start first, then record the person: a failed start changes nothing; a failed write after the start
      // is repaired by the workflow's activity, which creates the person itself if it is missing.
      try {
        await deps.temporal.client.workflow.start<typeof personSetup>('personSetup', {
          taskQueue: deps.temporal.taskQueue,
          workflowId,
          args: [input],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          typedSearchAttributes: [{ key: PortalTenantId, value: tenant.id }, { key: PortalPersonId, value: personId }],
          memo: { kind: 'person-setup', tenantSlug: tenant.slug },
        });
      } catch (err) {
        // The same Idempotency-Key after the first run finished: that person exists already.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
          log.error({ err, workflowId }, 'could not start person setup');
          throw new ApiError('unavailable', 'The workflow engine is unavailable; nothing was created. Retry later.');
        }
      }
      await deps.db.transaction().execute(async (tx) => {
        const inserted = await insertPendingPerson(tx, { id: personId, tenantId: tenant.id, displayName: body.displayName, email: body.email ?? null, setupWorkflowId: workflowId });
        if (inserted) {
          await appendAudit(tx, {
            tenantId: tenant.id, actor: actorOf(caller), action: 'person.created', target: { kind: 'person', id: personId },
            details: { displayName: body.displayName, workflowId }, requestId,
          });
        }
      });
      const person = await getPerson(deps.db, tenant.id, personId);
      if (!person) throw new ApiError('conflict', 'The Idempotency-Key was used for a person in another tenant.');
      return { status: 202, body: await personBody(deps, person), headers: { Location: `/v1/tenants/${tenant.id}/people/${personId}` } };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/people', tag: 'people', summary: 'List people of a tenant',
    permission: 'portal.people.view', tenantScoped: true,
    query: z.strictObject({ ...pageQuery, status: z.enum(['pending', 'active']).optional(), email: z.string().max(320).optional() }),
    responses: { 200: { description: 'A page of people', schema: pageOf(personSchema) } },
    handler: async ({ query, tenant, deps }) => {
      const page = await listPeople(deps.db, tenant.id, { status: query.status, email: query.email }, query.cursor ?? null, query.limit);
      return { status: 200, body: { ...page, items: await Promise.all(page.items.map((p) => personBody(deps, p))) } };
    },
  }),
  defineRoute({
    method: 'get', path: '/v1/tenants/:tenantId/people/:personId', tag: 'people', summary: 'Read a person with profile and setup outcome',
    permission: 'portal.people.view', tenantScoped: true, params: personParams,
    responses: { 200: { description: 'The person', schema: personSchema } },
    handler: async ({ params, tenant, deps }) => {
      const person = await getPerson(deps.db, tenant.id, params.personId);
      if (!person) throw new ApiError('not_found', `Person ${params.personId} was not found.`);
      return { status: 200, body: await personBody(deps, person) };
    },
  }),
];
