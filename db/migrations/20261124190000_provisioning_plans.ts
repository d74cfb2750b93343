// Frozen once released: never edit this file; add a new migration instead.
import { type Kysely, sql } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

export async function up(db: Kysely<any>): Promise<void> {
  // A connector instance: one downstream system configured for one tenant. Credentials are stored encrypted
  // (AES-256-GCM under PORTAL_SECRET_KEY) and never leave the database in a response.
  await db.schema
    .createTable('connector_instances')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('config', 'jsonb', (c) => c.notNull())
    .addColumn('credentials_ciphertext', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('connector_instances_tenant_name_uq', ['tenant_id', 'name'])
    .execute();

  // A provisioning plan is a fact: once created neither it nor its steps change. What happens to it is
  // appended as evidence; its progress is kept apart in provisioning_plan_status.
  await db.schema
    .createTable('provisioning_plans')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('origin_kind', 'text', (c) => c.notNull().check(sql`origin_kind in ('access_request', 'lifecycle_run', 'operator')`))
    .addColumn('origin_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('created_by_kind', 'text', (c) => c.notNull())
    .addColumn('created_by_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('provisioning_plans_origin_idx').on('provisioning_plans').columns(['tenant_id', 'origin_kind', 'origin_id']).execute();
  await sql`create trigger provisioning_plans_immutable before update or delete on provisioning_plans
    for each row execute function portal_refuse_change()`.execute(db);
  await sql`create trigger provisioning_plans_no_truncate before truncate on provisioning_plans
    for each statement execute function portal_refuse_change()`.execute(db);

  await db.schema
    .createTable('provisioning_plan_steps')
    .addColumn('plan_id', 'uuid', (c) => c.notNull().references('provisioning_plans.id'))
    .addColumn('step_key', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('ordinal', 'integer', (c) => c.notNull())
    .addColumn('target_system', 'text', (c) => c.notNull().check(sql`target_system in ('portal', 'connector')`))
    .addColumn('connector_instance_id', 'uuid', (c) => c.references('connector_instances.id'))
    .addColumn('connector_kind', 'text')
    .addColumn('operation', 'text', (c) => c.notNull())
    .addColumn('target_object', 'text', (c) => c.notNull())
    .addColumn('parameters', 'jsonb', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('depends_on', 'jsonb', (c) => c.notNull())
    .addColumn('callback_deadline_seconds', 'integer')
    .addPrimaryKeyConstraint('provisioning_plan_steps_pk', ['plan_id', 'step_key'])
    .addUniqueConstraint('provisioning_plan_steps_idem_uq', ['tenant_id', 'idempotency_key'])
    .execute();
  await db.schema.createIndex('provisioning_plan_steps_target_idx').on('provisioning_plan_steps').columns(['tenant_id', 'target_object']).execute();
  await sql`create trigger provisioning_plan_steps_immutable before update or delete on provisioning_plan_steps
    for each row execute function portal_refuse_change()`.execute(db);
  await sql`create trigger provisioning_plan_steps_no_truncate before truncate on provisioning_plan_steps
    for each statement execute function portal_refuse_change()`.execute(db);

  // Evidence: one row per attempt of a step (and per callback outcome), append-only. `round` counts the
  // plan's executions (1, then one more per operator retry); `attempt` is Temporal's attempt within a round.
  await db.schema
    .createTable('provisioning_step_evidence')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('plan_id', 'uuid', (c) => c.notNull())
    .addColumn('step_key', 'text', (c) => c.notNull())
    .addColumn('round', 'integer', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('outcome', 'text', (c) => c.notNull().check(sql`outcome in
      ('applied', 'already_in_state', 'failed_retryable', 'failed_terminal', 'unverifiable', 'awaiting_callback')`))
    .addColumn('calls', 'jsonb', (c) => c.notNull())
    .addColumn('vendor_request_id', 'text')
    .addColumn('error', 'jsonb')
    .addColumn('detail', 'jsonb', (c) => c.notNull())
    .addForeignKeyConstraint('provisioning_step_evidence_step_fk', ['plan_id', 'step_key'], 'provisioning_plan_steps', ['plan_id', 'step_key'])
    // A retried activity that already recorded this attempt's outcome records nothing twice.
    .addUniqueConstraint('provisioning_step_evidence_attempt_uq', ['plan_id', 'step_key', 'round', 'attempt', 'outcome'])
    .execute();
  await db.schema.createIndex('provisioning_step_evidence_plan_idx').on('provisioning_step_evidence').columns(['plan_id', 'id']).execute();
  await sql`create trigger provisioning_step_evidence_append_only before update or delete on provisioning_step_evidence
    for each row execute function portal_refuse_change()`.execute(db);
  await sql`create trigger provisioning_step_evidence_no_truncate before truncate on provisioning_step_evidence
    for each statement execute function portal_refuse_change()`.execute(db);

  // Where a plan's execution stands (not evidence: the facts are the evidence rows).
  await db.schema
    .createTable('provisioning_plan_status')
    .addColumn('plan_id', 'uuid', (c) => c.primaryKey().references('provisioning_plans.id'))
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in
      ('pending', 'running', 'completed', 'completed_with_failures')`))
    .addColumn('round', 'integer', (c) => c.notNull())
    .addColumn('succeeded', 'jsonb', (c) => c.notNull())
    .addColumn('failed', 'jsonb', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('provisioning_plan_status_idx').on('provisioning_plan_status').columns(['tenant_id', 'status']).execute();

  // Callback tokens issued to steps awaiting a vendor job, a ticket or a human. The token itself is signed
  // (HMAC under a key derived from PORTAL_SECRET_KEY) and never stored; this row makes it single-use.
  await db.schema
    .createTable('provisioning_callback_tokens')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('plan_id', 'uuid', (c) => c.notNull())
    .addColumn('step_key', 'text', (c) => c.notNull())
    .addColumn('round', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addForeignKeyConstraint('provisioning_callback_tokens_step_fk', ['plan_id', 'step_key'], 'provisioning_plan_steps', ['plan_id', 'step_key'])
    .addUniqueConstraint('provisioning_callback_tokens_step_round_uq', ['plan_id', 'step_key', 'round'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('the provisioning plans migration is not reversible');
}
