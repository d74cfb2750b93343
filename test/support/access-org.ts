/** A tenant with people, groups and targets for access-request tests, each person with a token of their own. */
import { expect } from 'chai';
import type { Permission } from '../../api/permissions';
import { addGroupToGroup, addPersonToGroup } from '../../db/repositories/group-members';
import { createCatalogObject } from '../../db/repositories/catalog';
import type { Tenant } from '../../db/repositories/tenants';
import { testEnv } from './env';
import { ApiClient, eventually, seedPerson, seedPersonToken, seedTenant, seedToken } from './fixtures';

const personPermissions: Permission[] = ['portal.requests.submit', 'portal.requests.decide'];

export interface AccessOrg {
  tenant: Tenant;
  t: string;
  admin: ApiClient;
  ids: Record<'alice' | 'manager' | 'sec1' | 'sec2' | 'sec3' | 'boss' | 'bob', string>;
  as: Record<'alice' | 'manager' | 'sec1' | 'sec2' | 'sec3' | 'boss' | 'bob', ApiClient>;
  groups: { security: string; engineering: string; allStaff: string };
  role: string;
  app: string;
}

export async function createAccessOrg(baseUrl: string): Promise<AccessOrg> {
  const db = testEnv().db;
  const tenant = await seedTenant('customer', 'access');
  const manager = await seedPerson(tenant.id, 'Manager');
  const ids = {
    manager,
    alice: await seedPerson(tenant.id, 'Alice', { department: 'engineering', manager }),
    bob: await seedPerson(tenant.id, 'Bob', { department: 'sales', manager }),
    sec1: await seedPerson(tenant.id, 'Sec One'),
    sec2: await seedPerson(tenant.id, 'Sec Two'),
    sec3: await seedPerson(tenant.id, 'Sec Three'),
    boss: await seedPerson(tenant.id, 'Boss'),
  };
  const group = async (name: string) => (await createCatalogObject(db, 'groups', { tenantId: tenant.id, name, description: null }))!.id;
  const groups = { security: await group('security'), engineering: await group('engineering'), allStaff: await group('all-staff') };
  await db.transaction().execute(async (tx) => {
    for (const p of [ids.sec1, ids.sec2, ids.sec3]) await addPersonToGroup(tx, { tenantId: tenant.id, groupId: groups.security, personId: p });
    await addGroupToGroup(tx, { tenantId: tenant.id, groupId: groups.allStaff, childGroupId: groups.engineering });
  });
  const role = (await createCatalogObject(db, 'roles', { tenantId: tenant.id, name: 'deployer', description: null }))!.id;
  const app = (await createCatalogObject(db, 'applications', { tenantId: tenant.id, name: 'prod-console', description: null }))!.id;
  const anonymous = new ApiClient(baseUrl, null);
  const as = {} as AccessOrg['as'];
  for (const [name, id] of Object.entries(ids)) as[name as keyof typeof ids] = anonymous.as(await seedPersonToken(tenant.id, id, personPermissions));
  return { tenant, t: `/v1/tenants/${tenant.id}`, admin: anonymous.as(await seedToken(tenant.id)), ids, as, groups, role, app };
}

type Stage = Record<string, unknown>;

/** The two-stage policy of the issue: the manager (1 of 1), then two of three security approvers. */
export function twoStagePolicy(org: AccessOrg, overrides: { stage1?: Partial<Stage>; stage2?: Partial<Stage> } = {}) {
  return {
    stages: [
      { name: 'manager', approvers: [{ type: 'manager' }], quorum: { type: 'count', count: 1 }, timeout: { afterSeconds: 600, action: 'expire' }, ...overrides.stage1 },
      { name: 'security', approvers: [{ type: 'group', groupId: org.groups.security }], quorum: { type: 'count', count: 2 }, timeout: { afterSeconds: 600, action: 'expire' }, ...overrides.stage2 },
    ],
    approverOncePerRequest: false,
  };
}

/** Creates a bundle granting the org's role, engineering group and app. */
export async function createBundle(org: AccessOrg, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await org.admin.post(`${org.t}/bundles`, {
    name, ownerPersonId: org.ids.boss,
    items: [{ kind: 'role', id: org.role }, { kind: 'group', id: org.groups.engineering }, { kind: 'application', id: org.app }],
    eligibility: [], policy: twoStagePolicy(org), ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.id;
}

/** Submits a request as `who` and returns its id. */
export async function submit(org: AccessOrg, who: ApiClient, bundleId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await who.post(`${org.t}/requests`, { bundleId, justification: 'needed for the release', ...extra });
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return res.body.id;
}

/** Waits until the request's stage `stage` is open (its approvers resolved). */
export async function stageOpen(org: AccessOrg, requestId: string, stage: number): Promise<void> {
  await eventually(async () => {
    const r = await org.admin.get(`${org.t}/requests/${requestId}`);
    return r.body.currentStage === stage && r.body.stages.some((s: { stage: number }) => s.stage === stage) ? true : undefined;
  }, 20_000, `stage ${stage} to open`);
}

export async function statusOf(org: AccessOrg, requestId: string): Promise<string> {
  return (await org.admin.get(`${org.t}/requests/${requestId}`)).body.status;
}

export async function waitStatus(org: AccessOrg, requestId: string, status: string, timeoutMs = 20_000): Promise<void> {
  await eventually(async () => ((await statusOf(org, requestId)) === status ? true : undefined), timeoutMs, `request ${status}`);
}

export async function historyKinds(org: AccessOrg, requestId: string): Promise<string[]> {
  return (await org.admin.get(`${org.t}/requests/${requestId}/history`)).body.items.map((e: { kind: string; stage: number | null }) =>
    (e.stage === null ? e.kind : `${e.kind}:${e.stage}`));
}

export async function grantEdges(org: AccessOrg, requestId: string, state = 'live') {
  const items = (await org.admin.get(`${org.t}/access-edges?state=${state}&limit=200`)).body.items as { sourceRef: string; source: string; trust: string; target: { kind: string; id: string }; personId: string }[];
  return items.filter((e) => e.sourceRef === `access_request:${requestId}`);
}
