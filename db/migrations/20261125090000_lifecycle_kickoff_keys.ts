// Frozen once released: never edit this file; add a new migration instead.
import { type Kysely, sql } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

export async function up(db: Kysely<any>): Promise<void> {
  // A manual lifecycle kickoff is recorded by its audit event, which names the run; a retried kickoff (the same
  // Idempotency-Key, so the same run id) finds it here instead of signalling the lifecycle a second time.
  await sql`create index audit_events_lifecycle_kickoff_run_idx on audit_events (tenant_id, (details->>'runId'))
    where action = 'lifecycle.kickoff'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index audit_events_lifecycle_kickoff_run_idx`.execute(db);
}
