// Frozen once released: never edit this file; add a new migration instead.
import { type Kysely, sql } from 'kysely';

// Migrations are typed Kysely<any>: they must not depend on the app's current schema types.
/* eslint-disable @typescript-eslint/no-explicit-any */

export async function up(db: Kysely<any>): Promise<void> {
  // A generic guard for append-only and immutable tables, naming the table it protects.
  await sql`create function portal_refuse_change() returns trigger language plpgsql as $$
    begin
      raise exception '% is append-only (% refused)', tg_table_name, tg_op using errcode = 'P0001';
    end;
  $$`.execute(db);

  // API tokens may act as a person (approvers and requesters are people, not services).
  await db.schema.alterTable('api_tokens').addColumn('person_id', 'uuid', (c) => c.references('people.id')).execute();

  await db.schema
    .createTable('access_bundles')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('current_version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('access_bundles_tenant_name_uq', ['tenant_id', 'name'])
    .execute();

  // Every edit of a bundle is a new immutable version; a request runs under the version it was submitted at.
  await db.schema
    .createTable('access_bundle_versions')
    .addColumn('bundle_id', 'uuid', (c) => c.notNull().references('access_bundles.id'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('definition', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('access_bundle_versions_pk', ['bundle_id', 'version'])
    .execute();
  await sql`create trigger access_bundle_versions_immutable before update or delete on access_bundle_versions
    for each row execute function portal_refuse_change()`.execute(db);

  await db.schema
    .createTable('access_requests')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('bundle_id', 'uuid', (c) => c.notNull().references('access_bundles.id'))
    .addColumn('bundle_version', 'integer', (c) => c.notNull())
    .addColumn('beneficiary_person_id', 'uuid', (c) => c.notNull().references('people.id'))
    .addColumn('submitted_by_person_id', 'uuid', (c) => c.references('people.id'))
    .addColumn('submitted_by_token_id', 'uuid', (c) => c.notNull())
    .addColumn('justification', 'text', (c) => c.notNull())
    .addColumn('duration_seconds', 'integer')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in
      ('pending', 'approved', 'granted', 'denied', 'cancelled', 'expired', 'revoked')`))
    .addColumn('current_stage', 'integer')
    .addColumn('granted_at', 'timestamptz')
    .addColumn('grant_expires_at', 'timestamptz')
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('access_requests_tenant_idx').on('access_requests').columns(['tenant_id', 'id']).execute();
  await db.schema.createIndex('access_requests_beneficiary_idx').on('access_requests')
    .columns(['tenant_id', 'beneficiary_person_id', 'bundle_id']).execute();

  // Who may decide each stage, resolved when the stage opens (groups expanded, manager and owner looked up).
  await db.schema
    .createTable('access_request_approvers')
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('request_id', 'uuid', (c) => c.notNull().references('access_requests.id'))
    .addColumn('stage', 'integer', (c) => c.notNull())
    .addColumn('person_id', 'uuid', (c) => c.notNull().references('people.id'))
    .addColumn('escalation', 'boolean', (c) => c.notNull())
    .addColumn('decision', 'text', (c) => c.check(sql`decision in ('approve', 'deny')`))
    .addPrimaryKeyConstraint('access_request_approvers_pk', ['request_id', 'stage', 'person_id'])
    .execute();
  await db.schema.createIndex('access_request_approvers_person_idx').on('access_request_approvers')
    .columns(['tenant_id', 'person_id']).execute();

  // The request's history, in order: the evidence of who decided what, when, under which version.
  await db.schema
    .createTable('access_request_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('request_id', 'uuid', (c) => c.notNull().references('access_requests.id'))
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('stage', 'integer')
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('bundle_version', 'integer', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    // One event per (request, kind, stage, actor, sequence key): a retried activity cannot write it twice.
    .addColumn('dedupe_key', 'text', (c) => c.notNull())
    .addUniqueConstraint('access_request_events_dedupe_uq', ['request_id', 'dedupe_key'])
    .execute();
  await sql`create trigger access_request_events_append_only before update or delete on access_request_events
    for each row execute function portal_refuse_change()`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('the access requests migration is not reversible');
}
