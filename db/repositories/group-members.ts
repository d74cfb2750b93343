import type { Executor } from '../database';
import type { GroupMemberRow } from '../tables/groups';
import { grantEdge, lockTenantAccess, revokeAccessToTarget, revokeEdgesBySourceRef } from './access-edges';
import { isUuid, newId } from './ids';
import { decodeCursor, type Page, toPage } from './pagination';

/** A member of a group: a person or a nested group. */
export interface GroupMember {
  id: string;
  groupId: string;
  member: { kind: 'person' | 'group'; id: string };
  createdAt: Date;
}

function toMember(r: GroupMemberRow): GroupMember {
  const member = r.member_person_id !== null
    ? { kind: 'person' as const, id: r.member_person_id }
    : { kind: 'group' as const, id: r.member_group_id ?? '' };
  return { id: r.id, groupId: r.group_id, member, createdAt: r.created_at };
}

/** The edge reference of a person's direct membership row. */
const memberRef = (memberId: string) => `group_member:${memberId}`;
/** The edge reference of access that flows to a person through group `groupId`. */
const viaGroupRef = (groupId: string) => `group:${groupId}`;

export class GroupCycleError extends Error {
  constructor() {
    super('adding this group would make a group contain itself');
  }
}

/**
 * Adds a person to a group: the membership row, a direct edge to the group, and derived edges to every
 * group that contains it. Adding someone already there is success (created: false).
 */
export async function addPersonToGroup(
  tx: Executor, input: { tenantId: string; groupId: string; personId: string },
): Promise<{ member: GroupMember; created: boolean }> {
  await lockTenantAccess(tx, input.tenantId);
  const inserted = await tx.insertInto('group_members')
    .values({ id: newId(), tenant_id: input.tenantId, group_id: input.groupId, member_person_id: input.personId, member_group_id: null })
    .onConflict((oc) => oc.columns(['group_id', 'member_person_id']).where('member_person_id', 'is not', null).doNothing())
    .returningAll().executeTakeFirst();
  const row = inserted ?? await tx.selectFrom('group_members').selectAll()
    .where('group_id', '=', input.groupId).where('member_person_id', '=', input.personId).executeTakeFirstOrThrow();
  await grantEdge(tx, {
    tenantId: input.tenantId, personId: input.personId, targetKind: 'group', targetId: input.groupId,
    source: 'direct', trust: 'authoritative', sourceRef: memberRef(row.id),
  });
  await syncDerivedGroupEdges(tx, input.tenantId, [input.personId]);
  return { member: toMember(row), created: inserted !== undefined };
}

/** Nests group `childGroupId` inside `groupId`; refuses a cycle; derived edges follow for everyone inside. */
export async function addGroupToGroup(
  tx: Executor, input: { tenantId: string; groupId: string; childGroupId: string },
): Promise<{ member: GroupMember; created: boolean }> {
  await lockTenantAccess(tx, input.tenantId);
  const graph = await loadGroupGraph(tx, input.tenantId);
  if (input.groupId === input.childGroupId || descendantsOf(graph, input.childGroupId).has(input.groupId)) {
    throw new GroupCycleError();
  }
  const inserted = await tx.insertInto('group_members')
    .values({ id: newId(), tenant_id: input.tenantId, group_id: input.groupId, member_person_id: null, member_group_id: input.childGroupId })
    .onConflict((oc) => oc.columns(['group_id', 'member_group_id']).where('member_group_id', 'is not', null).doNothing())
    .returningAll().executeTakeFirst();
  const row = inserted ?? await tx.selectFrom('group_members').selectAll()
    .where('group_id', '=', input.groupId).where('member_group_id', '=', input.childGroupId).executeTakeFirstOrThrow();
  await syncDerivedGroupEdges(tx, input.tenantId, await peopleWithin(tx, input.tenantId, input.childGroupId));
  return { member: toMember(row), created: inserted !== undefined };
}

/** Removes a member row; its direct edge and the access derived through it are revoked. Null if absent. */
export async function removeGroupMember(
  tx: Executor, input: { tenantId: string; groupId: string; memberId: string },
): Promise<GroupMember | null> {
  if (!isUuid(input.memberId)) return null;
  await lockTenantAccess(tx, input.tenantId);
  const row = await tx.deleteFrom('group_members')
    .where('tenant_id', '=', input.tenantId).where('group_id', '=', input.groupId).where('id', '=', input.memberId)
    .returningAll().executeTakeFirst();
  if (!row) return null;
  if (row.member_person_id !== null) {
    await revokeEdgesBySourceRef(tx, input.tenantId, memberRef(row.id));
    await syncDerivedGroupEdges(tx, input.tenantId, [row.member_person_id]);
  } else if (row.member_group_id !== null) {
    await syncDerivedGroupEdges(tx, input.tenantId, await peopleWithin(tx, input.tenantId, row.member_group_id));
  }
  return toMember(row);
}

/**
 * Takes a person out of a group by every route but nesting: their membership row, and every live edge to
 * the group that is not group-derived (a direct membership, a request's grant, birthright, guest or support
 * access). Derived edges are then recomputed: a person who is in a group nested inside this one keeps it
 * through that group (`stillVia` names those groups). `changed` is false when nothing was there to remove.
 */
export async function removePersonFromGroup(
  tx: Executor, input: { tenantId: string; groupId: string; personId: string },
): Promise<{ changed: boolean; stillVia: string[] }> {
  await lockTenantAccess(tx, input.tenantId);
  const rows = await tx.deleteFrom('group_members')
    .where('tenant_id', '=', input.tenantId).where('group_id', '=', input.groupId).where('member_person_id', '=', input.personId)
    .returning('id').execute();
  const revoked = await revokeAccessToTarget(tx, { tenantId: input.tenantId, personId: input.personId, targetKind: 'group', targetId: input.groupId });
  await syncDerivedGroupEdges(tx, input.tenantId, [input.personId]);
  const derived = await tx.selectFrom('access_edges').select('via_group_id')
    .where('tenant_id', '=', input.tenantId).where('person_id', '=', input.personId).where('target_kind', '=', 'group')
    .where('target_id', '=', input.groupId).where('source', '=', 'group').where('revoked_at', 'is', null).execute();
  return { changed: rows.length + revoked > 0, stillVia: derived.map((d) => d.via_group_id as string) };
}

export async function listGroupMembers(db: Executor, tenantId: string, groupId: string, cursor: string | null, limit: number): Promise<Page<GroupMember>> {
  let q = db.selectFrom('group_members').selectAll().where('tenant_id', '=', tenantId).where('group_id', '=', groupId);
  if (cursor) q = q.where('id', '>', decodeCursor(cursor, isUuid));
  const rows = await q.orderBy('id').limit(limit + 1).execute();
  return toPage(rows, limit, (r) => r.id, toMember);
}

interface GroupGraph {
  parents: Map<string, string[]>;
  children: Map<string, string[]>;
}

async function loadGroupGraph(db: Executor, tenantId: string): Promise<GroupGraph> {
  const links = await db.selectFrom('group_members').select(['group_id', 'member_group_id'])
    .where('tenant_id', '=', tenantId).where('member_group_id', 'is not', null).execute();
  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  for (const l of links) {
    const child = l.member_group_id as string;
    parents.set(child, [...(parents.get(child) ?? []), l.group_id]);
    children.set(l.group_id, [...(children.get(l.group_id) ?? []), child]);
  }
  return { parents, children };
}

function reachable(next: Map<string, string[]>, start: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...(next.get(start) ?? [])];
  while (stack.length > 0) {
    const g = stack.pop() as string;
    if (seen.has(g)) continue;
    seen.add(g);
    stack.push(...(next.get(g) ?? []));
  }
  return seen;
}

const ancestorsOf = (graph: GroupGraph, groupId: string) => reachable(graph.parents, groupId);
const descendantsOf = (graph: GroupGraph, groupId: string) => reachable(graph.children, groupId);

/** Every person directly in `groupId` or in a group nested inside it. */
async function peopleWithin(db: Executor, tenantId: string, groupId: string): Promise<string[]> {
  const groups = [groupId, ...descendantsOf(await loadGroupGraph(db, tenantId), groupId)];
  const rows = await db.selectFrom('group_members').select('member_person_id')
    .where('tenant_id', '=', tenantId).where('group_id', 'in', groups).where('member_person_id', 'is not', null)
    .union(db.selectFrom('access_edges').select('person_id as member_person_id')
      .where('tenant_id', '=', tenantId).where('target_kind', '=', 'group').where('target_id', 'in', groups)
      .where('source', '=', 'iga_grant').where('revoked_at', 'is', null))
    .execute();
  return [...new Set(rows.map((r) => r.member_person_id as string))];
}

/**
 * Makes the group-derived edges of these people match the group graph: a person in group G gets one
 * `group`-sourced edge to every group that (transitively) contains G, via G. Missing edges are written,
 * edges whose path no longer exists are revoked. Callers hold the tenant's access lock.
 */
export async function syncDerivedGroupEdges(tx: Executor, tenantId: string, personIds: readonly string[]): Promise<void> {
  if (personIds.length === 0) return;
  const graph = await loadGroupGraph(tx, tenantId);
  // A person is "in" a group through a membership row or through a live grant of that group (an approved
  // request): both confer the groups that contain it.
  const direct = await tx.selectFrom('group_members').select(['group_id', 'member_person_id'])
    .where('tenant_id', '=', tenantId).where('member_person_id', 'in', [...personIds])
    .union(tx.selectFrom('access_edges').select(['target_id as group_id', 'person_id as member_person_id'])
      .where('tenant_id', '=', tenantId).where('person_id', 'in', [...personIds]).where('target_kind', '=', 'group')
      .where('source', '=', 'iga_grant').where('revoked_at', 'is', null))
    .execute();
  const want = new Map<string, { personId: string; groupId: string; viaGroupId: string }>();
  for (const d of direct) {
    const personId = d.member_person_id as string;
    for (const ancestor of ancestorsOf(graph, d.group_id)) {
      want.set(`${personId}|${ancestor}|${viaGroupRef(d.group_id)}`, { personId, groupId: ancestor, viaGroupId: d.group_id });
    }
  }
  const live = await tx.selectFrom('access_edges').select(['id', 'person_id', 'target_id', 'source_ref'])
    .where('tenant_id', '=', tenantId).where('source', '=', 'group').where('target_kind', '=', 'group')
    .where('person_id', 'in', [...personIds]).where('revoked_at', 'is', null).execute();
  const stale: string[] = [];
  for (const e of live) {
    const key = `${e.person_id}|${e.target_id}|${e.source_ref}`;
    if (want.has(key)) want.delete(key);
    else stale.push(e.id);
  }
  if (stale.length > 0) await tx.updateTable('access_edges').set({ revoked_at: new Date() }).where('id', 'in', stale).execute();
  for (const w of want.values()) {
    await grantEdge(tx, {
      tenantId, personId: w.personId, targetKind: 'group', targetId: w.groupId,
      source: 'group', trust: 'derived', sourceRef: viaGroupRef(w.viaGroupId), viaGroupId: w.viaGroupId,
    });
  }
}
