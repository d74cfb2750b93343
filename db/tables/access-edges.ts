import type { ColumnType, Insertable, Selectable } from 'kysely';

export type AccessTargetKind = 'role' | 'group' | 'application';
/** How an edge came to be. */
export type AccessSource = 'direct' | 'group' | 'iga_grant' | 'guest' | 'support';
/**
 * How far the edge can be trusted: `authoritative` (set by an administrator or an authoritative source),
 * `derived` (inherited through a group), `governed` (granted through an approved request),
 * `external` (guest access), `elevated` (time-bound support access).
 */
export type AccessTrust = 'authoritative' | 'derived' | 'governed' | 'external' | 'elevated';

/** One "person has target" fact, with its provenance. Revocation sets revoked_at; rows are never deleted. */
export interface AccessEdgesTable {
  id: string;
  tenant_id: string;
  person_id: string;
  target_kind: AccessTargetKind;
  target_id: string;
  source: AccessSource;
  trust: AccessTrust;
  /** What the edge derives from, e.g. `group_member:<id>` or `access_request:<id>`. */
  source_ref: string;
  /** For group-derived edges: the group the person is in that confers this edge. */
  via_group_id: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  revoked_at: Date | null;
}

export type AccessEdgeRow = Selectable<AccessEdgesTable>;
export type NewAccessEdgeRow = Insertable<AccessEdgesTable>;
