import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import { Migrator } from 'kysely/migration';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Pool, types } from 'pg';
import type { Database, Db } from './database';
import { migrations } from './migrations';

/** Where the data lives: PostgreSQL by URL, or embedded PostgreSQL (PGlite) in a directory or in memory. */
export type DatabaseTarget = { kind: 'postgres'; url: string } | { kind: 'embedded'; dataDir: string | null };

// bigint (audit event ids, counts) stays a string: ids are opaque and must not lose precision.
types.setTypeParser(types.builtins.INT8, (v) => v);

/** Opens a Kysely handle over PostgreSQL (`pg`) or PGlite; the same queries and migrations serve both. */
export function openDatabase(target: DatabaseTarget): Db {
  if (target.kind === 'postgres') {
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: target.url, max: 10 }) }) });
  }
  if (target.dataDir) mkdirSync(target.dataDir, { recursive: true });
  const pglite = new PGlite(target.dataDir ?? undefined);
  return new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
}

/** Applies every pending migration; fails loudly with the migration's own error. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
