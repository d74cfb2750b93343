import type { ColumnType, Insertable, Selectable } from 'kysely';

/** A bearer API token. Only the SHA-256 of the secret is stored; the secret is shown once. */
export interface ApiTokensTable {
  id: string;
  tenant_id: string;
  name: string;
  token_hash: string;
  permissions: ColumnType<string[], string[], never>;
  /** The person this token acts as (requesters and approvers are people), or null for a service token. */
  person_id: ColumnType<string | null, string | null | undefined, never>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  revoked_at: Date | null;
}

export type ApiTokenRow = Selectable<ApiTokensTable>;
export type NewApiTokenRow = Insertable<ApiTokensTable>;
