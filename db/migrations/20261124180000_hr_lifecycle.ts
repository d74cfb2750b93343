// Frozen once released: never edit this file; add a new migration instead.
import { type Kysely, sql } from 'kysely';

// Migrations are typed Kysely<any>: they must not depend on the app's current schema types.
/* eslint-disable @typescript-eslint/no-explicit-any */

export async function up(db: Kysely<any>): Promise<void> {
  // Leavers are kept, not deleted: their history and evidence stay readable.
  await sql`alter table people drop constraint people_status_check`.execute(db);
  await sql`alter table people add constraint people_status_check check (status in ('pending', 'active', 'disabled', 'deleted'))`.execute(db);

  // How an external system (the HR system) names a person of a tenant.
  await db.schema
    .createTable('person_external_ids')
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('system', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('person_id', 'uuid', (c) => c.notNull().references('people.id'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('person_external_ids_pk', ['tenant_id', 'system', 'external_id'])
    .execute();

  // Per-tenant HR settings: the webhook signing secret (encrypted) and the mass-change safety threshold.
  await db.schema
    .createTable('hr_settings')
    .addColumn('tenant_id', 'uuid', (c) => c.primaryKey().references('tenants.id'))
    .addColumn('secret_ciphertext', 'text')
    .addColumn('disable_threshold', 'integer', (c) => c.notNull())
    .addColumn('threshold_window_seconds', 'integer', (c) => c.notNull())
    .addColumn('leaver_delete_after_seconds', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // A batch of disabling events held for an operator's approval.
  await db.schema
    .createTable('hr_holds')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'approved', 'rejected')`))
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('decided_at', 'timestamptz')
    .addColumn('decided_by', 'text')
    .execute();

  // Every accepted HR event, stored before it is acknowledged; the HR system's event id deduplicates.
  await db.schema
    .createTable('hr_events')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('employee_id', 'text', (c) => c.notNull())
    .addColumn('person_id', 'uuid', (c) => c.notNull())
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('effective_at', 'timestamptz')
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('import_id', 'uuid')
    .addColumn('hold_id', 'uuid', (c) => c.references('hr_holds.id'))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('received', 'held', 'dispatched', 'applied', 'superseded', 'rejected_by_operator', 'failed')`))
    .addColumn('outcome', 'text')
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('hr_events_tenant_event_uq', ['tenant_id', 'event_id'])
    .execute();
  await db.schema.createIndex('hr_events_person_idx').on('hr_events').columns(['tenant_id', 'person_id', 'occurred_at']).execute();

  // Joiner / mover / leaver templates, versioned like bundles: a run uses the version current when it starts.
  await db.schema
    .createTable('lifecycle_templates')
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('joiner', 'mover', 'leaver')`))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('definition', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('lifecycle_templates_pk', ['tenant_id', 'kind', 'version'])
    .execute();
  await sql`create trigger lifecycle_templates_immutable before update or delete on lifecycle_templates
    for each row execute function portal_refuse_change()`.execute(db);

  // One row per lifecycle run (scheduled, running, completed, cancelled), with what it did.
  await db.schema
    .createTable('lifecycle_runs')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('person_id', 'uuid', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('joiner', 'mover', 'leaver')`))
    .addColumn('trigger', 'text', (c) => c.notNull().check(sql`trigger in ('hr_event', 'manual', 'effective_date')`))
    .addColumn('hr_event_id', 'text')
    .addColumn('template_version', 'integer')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('scheduled', 'running', 'completed', 'cancelled', 'failed')`))
    .addColumn('scheduled_for', 'timestamptz')
    .addColumn('reason', 'text')
    .addColumn('steps', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('lifecycle_runs_person_idx').on('lifecycle_runs').columns(['tenant_id', 'person_id', 'created_at']).execute();

  // Messages Portal owes someone (a manager told of a joiner or leaver), delivered by a later channel.
  await db.schema
    .createTable('outbox_messages')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('recipient_person_id', 'uuid', (c) => c.references('people.id'))
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('body', 'jsonb', (c) => c.notNull())
    .addColumn('dedupe_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('outbox_messages_dedupe_uq', ['tenant_id', 'dedupe_key'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('the HR and lifecycle migration is not reversible');
}
