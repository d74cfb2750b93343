// Frozen once released: never edit this file; add a new migration instead.
import { type Kysely, sql } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

export async function up(db: Kysely<any>): Promise<void> {
  // What a submission asked for (a hash of its canonical body), so a replayed Idempotency-Key with a
  // different body is refused instead of answered with the first request. Null for earlier requests.
  await db.schema.alterTable('access_requests').addColumn('submission_hash', 'text').execute();

  // At most one open or granted request per bundle and person: the API checks first, this holds under
  // concurrent submissions. Creating it fails, naming the pair, if a database already holds two; end one
  // of them (cancel it) and run the migration again.
  await sql`create unique index access_requests_live_uq on access_requests (tenant_id, bundle_id, beneficiary_person_id)
    where status in ('pending', 'approved', 'granted')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index access_requests_live_uq`.execute(db);
  await db.schema.alterTable('access_requests').dropColumn('submission_hash').execute();
}
