// Frozen once released: never edit this file; add a new migration instead.
import { type Kysely, sql } from 'kysely';

// Migrations are typed Kysely<any>: they must not depend on the app's current schema types.
/* eslint-disable @typescript-eslint/no-explicit-any */

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('tenants')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('operator', 'customer', 'vendor')`))
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('people')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'active')`))
    .addColumn('setup_workflow_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('people_tenant_idx').on('people').columns(['tenant_id', 'id']).execute();

  await db.schema
    .createTable('tenant_memberships')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('person_id', 'uuid', (c) => c.notNull().references('people.id'))
    .addColumn('profile', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('tenant_memberships_tenant_person_uq', ['tenant_id', 'person_id'])
    .execute();

  await db.schema
    .createTable('groups')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('groups_tenant_name_uq', ['tenant_id', 'name'])
    .execute();

  await db.schema
    .createTable('group_members')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('group_id', 'uuid', (c) => c.notNull().references('groups.id'))
    .addColumn('member_person_id', 'uuid', (c) => c.references('people.id'))
    .addColumn('member_group_id', 'uuid', (c) => c.references('groups.id'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('group_members_one_member', sql`(member_person_id is null) <> (member_group_id is null)`)
    .addCheckConstraint('group_members_not_self', sql`member_group_id is distinct from group_id`)
    .execute();
  await sql`create unique index group_members_person_uq on group_members (group_id, member_person_id) where member_person_id is not null`.execute(db);
  await sql`create unique index group_members_group_uq on group_members (group_id, member_group_id) where member_group_id is not null`.execute(db);

  await db.schema
    .createTable('roles')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('roles_tenant_name_uq', ['tenant_id', 'name'])
    .execute();

  await db.schema
    .createTable('applications')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('applications_tenant_name_uq', ['tenant_id', 'name'])
    .execute();

  await db.schema
    .createTable('app_assignments')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('application_id', 'uuid', (c) => c.notNull().references('applications.id'))
    .addColumn('person_id', 'uuid', (c) => c.notNull().references('people.id'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('app_assignments_app_person_uq', ['application_id', 'person_id'])
    .execute();

  await db.schema
    .createTable('access_edges')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('person_id', 'uuid', (c) => c.notNull().references('people.id'))
    .addColumn('target_kind', 'text', (c) => c.notNull().check(sql`target_kind in ('role', 'group', 'application')`))
    .addColumn('target_id', 'uuid', (c) => c.notNull())
    .addColumn('source', 'text', (c) =>
      c.notNull().check(sql`source in ('direct', 'group', 'iga_grant', 'guest', 'support')`))
    .addColumn('trust', 'text', (c) =>
      c.notNull().check(sql`trust in ('authoritative', 'derived', 'governed', 'external', 'elevated')`))
    .addColumn('source_ref', 'text', (c) => c.notNull())
    .addColumn('via_group_id', 'uuid', (c) => c.references('groups.id'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  // One live edge per fact: writing the same fact again is "already in that state", not a second edge.
  await sql`create unique index access_edges_live_uq on access_edges
    (tenant_id, person_id, target_kind, target_id, source, source_ref) where revoked_at is null`.execute(db);
  await db.schema.createIndex('access_edges_tenant_person_idx').on('access_edges').columns(['tenant_id', 'person_id']).execute();
  await db.schema.createIndex('access_edges_tenant_target_idx').on('access_edges')
    .columns(['tenant_id', 'target_kind', 'target_id']).execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_kind', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('request_id', 'text')
    .execute();
  await db.schema.createIndex('audit_events_tenant_idx').on('audit_events').columns(['tenant_id', 'id']).execute();
  // The audit trail is evidence: the database itself refuses to rewrite or remove it.
  await sql`create function portal_refuse_audit_change() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_events is append-only (% refused)', tg_op using errcode = 'P0001';
    end;
  $$`.execute(db);
  await sql`create trigger audit_events_append_only before update or delete on audit_events
    for each row execute function portal_refuse_audit_change()`.execute(db);
  await sql`create trigger audit_events_no_truncate before truncate on audit_events
    for each statement execute function portal_refuse_audit_change()`.execute(db);

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('permissions', sql`text[]`, (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('the core model migration is not reversible');
}
