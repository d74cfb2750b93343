import type { Executor } from '../database';
import type { ProfileAttributeDefinitionsTable } from '../tables/profiles';
import type { Selectable } from 'kysely';
import { type CustomAttributeDefinition, DefaultSourcePrecedence, type ProfileSource } from '../../workflows/profile-schema';
import { isUuid, newId } from './ids';

export type { CustomAttributeDefinition };

/** A custom attribute definition with its timestamps, as the API shows it. */
export interface CustomAttribute extends CustomAttributeDefinition {
  tenantId: string;
  createdAt: Date;
  updatedAt: Date;
}

function toAttribute(r: Selectable<ProfileAttributeDefinitionsTable>): CustomAttribute {
  return {
    id: r.id, tenantId: r.tenant_id, key: r.key, label: r.label, type: r.type, required: r.required, mutability: r.mutability,
    enumValues: r.enum_values, pattern: r.pattern, min: r.min, max: r.max, description: r.description,
    createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** A tenant's custom attributes, by key. */
export async function listCustomAttributes(db: Executor, tenantId: string): Promise<CustomAttribute[]> {
  const rows = await db.selectFrom('profile_attribute_definitions').selectAll().where('tenant_id', '=', tenantId).orderBy('key').execute();
  return rows.map(toAttribute);
}

export async function getCustomAttribute(db: Executor, tenantId: string, id: string): Promise<CustomAttribute | null> {
  if (!isUuid(id)) return null;
  const row = await db.selectFrom('profile_attribute_definitions').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return row ? toAttribute(row) : null;
}

/** What defines a custom attribute (its id is assigned on creation). */
export type CustomAttributeInput = Omit<CustomAttributeDefinition, 'id'>;

/** Creates a custom attribute; null when the key is taken in the tenant. */
export async function createCustomAttribute(db: Executor, tenantId: string, input: CustomAttributeInput): Promise<CustomAttribute | null> {
  const row = await db.insertInto('profile_attribute_definitions')
    .values({
      id: newId(), tenant_id: tenantId, key: input.key, label: input.label, type: input.type, required: input.required,
      mutability: input.mutability, enum_values: input.enumValues ? JSON.stringify(input.enumValues) : null,
      pattern: input.pattern, min: input.min, max: input.max, description: input.description,
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'key']).doNothing())
    .returningAll().executeTakeFirst();
  return row ? toAttribute(row) : null;
}

/** Replaces the editable parts of a definition (key and type never change); null when absent. */
export async function updateCustomAttribute(
  db: Executor, tenantId: string, id: string, input: Omit<CustomAttributeInput, 'key' | 'type'>,
): Promise<CustomAttribute | null> {
  if (!isUuid(id)) return null;
  const row = await db.updateTable('profile_attribute_definitions')
    .set({
      label: input.label, required: input.required, mutability: input.mutability,
      enum_values: input.enumValues ? JSON.stringify(input.enumValues) : null, pattern: input.pattern, min: input.min, max: input.max,
      description: input.description, updated_at: new Date(),
    })
    .where('tenant_id', '=', tenantId).where('id', '=', id).returningAll().executeTakeFirst();
  return row ? toAttribute(row) : null;
}

/** How many people of the tenant hold a value (or provenance) for an attribute. */
export async function countAttributeHolders(db: Executor, tenantId: string, key: string): Promise<number> {
  const row = await db.selectFrom('profile_attribute_values').select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', tenantId).where('attribute', '=', key).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Deletes a definition; returns false when it does not exist. */
export async function deleteCustomAttribute(db: Executor, tenantId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const row = await db.deleteFrom('profile_attribute_definitions').where('tenant_id', '=', tenantId).where('id', '=', id).returning('id').executeTakeFirst();
  return row !== undefined;
}

/** A tenant's source precedence: its default order and per-attribute orders (highest first). */
export interface SourcePrecedence {
  /** The order for attributes without their own; the built-in default unless the tenant set one. */
  default: ProfileSource[];
  /** Whether `default` is the tenant's own (false: the built-in default). */
  defaultIsCustom: boolean;
  attributes: Record<string, ProfileSource[]>;
}

const DEFAULT_KEY = '*';

export async function getSourcePrecedence(db: Executor, tenantId: string): Promise<SourcePrecedence> {
  const rows = await db.selectFrom('profile_source_precedence').select(['attribute', 'sources']).where('tenant_id', '=', tenantId).orderBy('attribute').execute();
  const own = rows.find((r) => r.attribute === DEFAULT_KEY);
  const attributes: Record<string, ProfileSource[]> = {};
  for (const r of rows) if (r.attribute !== DEFAULT_KEY) attributes[r.attribute] = r.sources;
  return { default: own?.sources ?? [...DefaultSourcePrecedence], defaultIsCustom: own !== undefined, attributes };
}

/** The order that decides an attribute. */
export function precedenceOf(p: SourcePrecedence, attribute: string): readonly ProfileSource[] {
  return p.attributes[attribute] ?? p.default;
}

/** Replaces a tenant's whole precedence configuration (a null default restores the built-in one). */
export async function replaceSourcePrecedence(
  db: Executor, tenantId: string, input: { default: ProfileSource[] | null; attributes: Record<string, ProfileSource[]> },
): Promise<SourcePrecedence> {
  await db.deleteFrom('profile_source_precedence').where('tenant_id', '=', tenantId).execute();
  const rows = Object.entries(input.attributes).map(([attribute, sources]) => ({ tenant_id: tenantId, attribute, sources: JSON.stringify(sources) }));
  if (input.default) rows.push({ tenant_id: tenantId, attribute: DEFAULT_KEY, sources: JSON.stringify(input.default) });
  if (rows.length > 0) await db.insertInto('profile_source_precedence').values(rows).execute();
  return getSourcePrecedence(db, tenantId);
}
