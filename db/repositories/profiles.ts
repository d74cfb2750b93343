import type { Executor } from '../database';
import { type Actor, appendAudit } from './audit';
import { newId } from './ids';

// The identity-profile module proper (provenance, precedence, resolution issues) replaces this file; the
// signature below is the contract the lifecycle relies on.

export type ProfileSource = 'hr_connector' | 'scim' | 'directory_import' | 'federation' | 'manual';

export interface ProfileObservation {
  tenantId: string;
  personId: string;
  source: ProfileSource;
  sourceRecordId: string;
  observedAt: Date;
  /** Built-in fields by API name (camelCase) and custom attributes by key; null clears. */
  values: Record<string, string | number | boolean | null>;
  actor: Actor;
  requestId?: string | null;
}

export interface ProfileApplyResult {
  applied: string[];
  unchanged: string[];
  issuesOpened: string[];
  rejected: { attribute: string; reason: string }[];
  changes: { attribute: string; from: unknown; to: unknown }[];
}

/** Applies a source's observation of a person's profile to their membership in the tenant (idempotent). */
export async function applyProfileObservation(tx: Executor, obs: ProfileObservation): Promise<ProfileApplyResult> {
  const membership = await tx.selectFrom('tenant_memberships').select(['id', 'profile'])
    .where('tenant_id', '=', obs.tenantId).where('person_id', '=', obs.personId).forUpdate().executeTakeFirst();
  const current = membership?.profile ?? {};
  const changes = Object.entries(obs.values)
    .filter(([k, v]) => (current[k] ?? null) !== v)
    .map(([attribute, to]) => ({ attribute, from: current[attribute] ?? null, to }));
  const next = { ...current, ...obs.values };
  if (!membership) {
    await tx.insertInto('tenant_memberships').values({ id: newId(), tenant_id: obs.tenantId, person_id: obs.personId, profile: JSON.stringify(next) }).execute();
  } else if (changes.length > 0) {
    await tx.updateTable('tenant_memberships').set({ profile: JSON.stringify(next) }).where('id', '=', membership.id).execute();
  }
  if (changes.length > 0) {
    await appendAudit(tx, {
      tenantId: obs.tenantId, actor: obs.actor, action: 'profile.updated', target: { kind: 'person', id: obs.personId },
      details: { source: obs.source, sourceRecordId: obs.sourceRecordId, attributes: changes.map((c) => c.attribute) }, requestId: obs.requestId ?? null,
    });
  }
  const changed = new Set(changes.map((c) => c.attribute));
  return {
    applied: [...changed], unchanged: Object.keys(obs.values).filter((k) => !changed.has(k)), issuesOpened: [], rejected: [], changes,
  };
}
