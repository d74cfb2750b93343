import { z } from 'zod';

/**
 * The parameters of a connector step, per operation. Plans store them as data; the API validates them with
 * these schemas before a plan is created, and the executor parses them again before calling the vendor.
 */
export const accountSpecSchema = z.strictObject({
  userName: z.string().min(1).max(256),
  displayName: z.string().min(1).max(256),
  givenName: z.string().min(1).max(128),
  familyName: z.string().min(1).max(128),
  email: z.email(),
  externalId: z.string().min(1).max(128),
  active: z.boolean().optional(),
});

export const accountChangesSchema = accountSpecSchema.omit({ userName: true }).partial()
  .refine((c) => Object.keys(c).length > 0, { message: 'at least one field must change' });

const userName = z.string().min(1).max(256);

export const connectorStepSchema = z.discriminatedUnion('operation', [
  z.strictObject({ operation: z.literal('create_account'), account: accountSpecSchema }),
  z.strictObject({ operation: z.literal('update_account'), userName, changes: accountChangesSchema }),
  z.strictObject({ operation: z.enum(['enable_account', 'disable_account', 'delete_account']), userName }),
  z.strictObject({ operation: z.enum(['add_to_group', 'remove_from_group']), userName, group: z.string().min(1).max(256) }),
  z.strictObject({ operation: z.enum(['assign', 'unassign']), userName, assignment: z.string().min(1).max(256) }),
]);
export type ConnectorStep = z.infer<typeof connectorStepSchema>;
