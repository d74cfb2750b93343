// Frozen once released: never edit this file; add a new migration instead.
import { type Kysely, sql } from 'kysely';

// Migrations are typed Kysely<any>: they must not depend on the app's current schema types.
/* eslint-disable @typescript-eslint/no-explicit-any */

const sources = sql`('hr_connector', 'scim', 'directory_import', 'federation', 'manual')`;

export async function up(db: Kysely<any>): Promise<void> {
  // Tenant-defined profile attributes. The key and type never change once created (values depend on them).
  await db.schema
    .createTable('profile_attribute_definitions')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('string', 'number', 'boolean', 'date', 'enum', 'reference')`))
    .addColumn('required', 'boolean', (c) => c.notNull())
    .addColumn('mutability', 'text', (c) => c.notNull().check(sql`mutability in ('source_only', 'admin_editable', 'self_editable')`))
    .addColumn('enum_values', 'jsonb')
    .addColumn('pattern', 'text')
    .addColumn('min', 'double precision')
    .addColumn('max', 'double precision')
    .addColumn('description', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('profile_attribute_definitions_tenant_key_uq', ['tenant_id', 'key'])
    .execute();

  // The current provenance of every attribute value (the values themselves are also projected, flat, into
  // tenant_memberships.profile for the readers that predate provenance).
  await db.schema
    .createTable('profile_attribute_values')
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('person_id', 'uuid', (c) => c.notNull().references('people.id'))
    .addColumn('attribute', 'text', (c) => c.notNull())
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ${sources}`))
    .addColumn('source_record_id', 'text', (c) => c.notNull())
    .addColumn('observed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('previous_value', 'jsonb', (c) => c.notNull())
    .addColumn('resolution_issue_id', 'uuid')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('profile_attribute_values_pk', ['tenant_id', 'person_id', 'attribute'])
    .execute();

  // Every change of a value or of its provenance, and every disagreement. Evidence: append-only.
  await db.schema
    .createTable('profile_attribute_history')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('person_id', 'uuid', (c) => c.notNull().references('people.id'))
    .addColumn('attribute', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull().check(sql`outcome in ('applied', 'confirmed', 'conflict', 'unresolved_reference', 'resolved')`))
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addColumn('previous_value', 'jsonb', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ${sources}`))
    .addColumn('source_record_id', 'text', (c) => c.notNull())
    .addColumn('observed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('issue_id', 'uuid')
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('profile_attribute_history_person_idx').on('profile_attribute_history')
    .columns(['tenant_id', 'person_id', 'id']).execute();
  await sql`create trigger profile_attribute_history_append_only before update or delete on profile_attribute_history
    for each row execute function portal_refuse_change()`.execute(db);
  await sql`create trigger profile_attribute_history_no_truncate before truncate on profile_attribute_history
    for each statement execute function portal_refuse_change()`.execute(db);

  // Source order per attribute, highest first; attribute '*' is the tenant's default for the rest.
  await db.schema
    .createTable('profile_source_precedence')
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('attribute', 'text', (c) => c.notNull())
    .addColumn('sources', 'jsonb', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('profile_source_precedence_pk', ['tenant_id', 'attribute'])
    .execute();

  // The resolution queue: a value a source sent that was not applied (a disagreement against precedence,
  // or a reference that does not resolve), with every candidate, until someone chooses.
  await db.schema
    .createTable('profile_resolution_issues')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('person_id', 'uuid', (c) => c.notNull().references('people.id'))
    .addColumn('attribute', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('source_conflict', 'unresolved_reference')`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('open', 'resolved')`))
    .addColumn('candidates', 'jsonb', (c) => c.notNull())
    .addColumn('resolution', 'jsonb')
    .addColumn('opened_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('resolved_at', 'timestamptz')
    .execute();
  // One open issue per person and attribute: a repeated disagreement updates it.
  await sql`create unique index profile_resolution_issues_open_uq on profile_resolution_issues (tenant_id, person_id, attribute)
    where status = 'open'`.execute(db);
  await db.schema.createIndex('profile_resolution_issues_tenant_idx').on('profile_resolution_issues')
    .columns(['tenant_id', 'status', 'id']).execute();
}

export async function down(): Promise<void> {
  throw new Error('the identity profiles migration is not reversible');
}
