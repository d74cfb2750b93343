import { z } from 'zod';
import { Permissions } from './permissions';

/** Shared request and response schemas. Requests are strict: unknown fields are refused. */

export const uuid = z.uuid();
export const isoDate = z.iso.datetime({ offset: true });

/** The optional `Idempotency-Key` header of a create: the same key in the same scope lands on the same record. */
export const idempotencyHeaders = z.object({
  'idempotency-key': z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'visible ASCII only').optional(),
});

export const pageQuery = {
  cursor: z.string().min(1).max(512).optional().meta({ description: 'Opaque cursor from a previous page' }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
};

/** A paged list response. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export const name = z.string().trim().min(1).max(200);
export const description = z.string().max(2000).nullable().optional();

export const tenantSchema = z.object({
  id: uuid, kind: z.enum(['operator', 'customer', 'vendor']), slug: z.string(), name: z.string(), createdAt: isoDate,
}).meta({ id: 'Tenant' });

export const apiTokenSchema = z.object({
  id: uuid, tenantId: uuid, name: z.string(), permissions: z.array(z.enum(Permissions)), personId: uuid.nullable(), createdAt: isoDate, revokedAt: isoDate.nullable(),
}).meta({ id: 'ApiToken' });

/** Profile values: employment fields and custom attributes, scalar values only for now. */
export const profileSchema = z.record(
  z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'attribute names are letters, digits and _'),
  z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]),
).refine((p) => Object.keys(p).length <= 100, 'at most 100 attributes').meta({ id: 'Profile' });

export const personSchema = z.object({
  id: uuid,
  tenantId: uuid,
  displayName: z.string(),
  email: z.string().nullable(),
  status: z.enum(['pending', 'active']),
  profile: profileSchema.nullable(),
  setup: z.object({
    workflowId: z.string().nullable(),
    status: z.enum(['pending', 'completed', 'failed']),
    failure: z.string().nullable(),
  }),
  createdAt: isoDate,
  updatedAt: isoDate,
}).meta({ id: 'Person' });

export const catalogObjectSchema = z.object({
  id: uuid, tenantId: uuid, name: z.string(), description: z.string().nullable(), createdAt: isoDate,
});

export const groupMemberSchema = z.object({
  id: uuid, groupId: uuid, member: z.object({ kind: z.enum(['person', 'group']), id: uuid }), createdAt: isoDate,
}).meta({ id: 'GroupMember' });

export const appAssignmentSchema = z.object({
  id: uuid, applicationId: uuid, personId: uuid, createdAt: isoDate,
}).meta({ id: 'AppAssignment' });

export const accessEdgeSchema = z.object({
  id: uuid,
  tenantId: uuid,
  personId: uuid,
  target: z.object({ kind: z.enum(['role', 'group', 'application']), id: uuid }),
  source: z.enum(['direct', 'group', 'iga_grant', 'guest', 'support']),
  trust: z.enum(['authoritative', 'derived', 'governed', 'external', 'elevated']),
  sourceRef: z.string(),
  viaGroupId: uuid.nullable(),
  createdAt: isoDate,
  revokedAt: isoDate.nullable(),
}).meta({ id: 'AccessEdge' });

export const auditEventSchema = z.object({
  id: z.string(),
  tenantId: uuid,
  occurredAt: isoDate,
  actor: z.object({ kind: z.string(), id: z.string() }),
  action: z.string(),
  target: z.object({ kind: z.string(), id: z.string() }),
  details: z.record(z.string(), z.unknown()),
  requestId: z.string().nullable(),
}).meta({ id: 'AuditEvent' });
