// Frozen once released: never edit this file; add a new migration instead.
import { type Kysely, sql } from 'kysely';

/* eslint-disable @typescript-eslint/no-explicit-any */

export async function up(db: Kysely<any>): Promise<void> {
  // What an operator's create asked for (a hash of its canonical body), so a replayed Idempotency-Key with a
  // different body is refused instead of answered with the first plan. Null for plans recorded before it,
  // and for plans Portal records itself (grants, lifecycles), which no client replays.
  // A nullable column without a default changes only the catalog, but it needs the table's lock for that
  // moment: give up rather than queue (and hold every plan write behind it) behind a long transaction.
  await sql`set local lock_timeout = '10s'`.execute(db);
  await db.schema.alterTable('provisioning_plans').addColumn('submission_hash', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('provisioning_plans').dropColumn('submission_hash').execute();
}
