import type { AccountSpec } from '../../connectors/types';
import { type BundleItem, isNativeItem } from '../../workflows/access-policy';
import type { Executor } from '../database';
import type { Actor } from './audit';
import { appendAudit } from './audit';
import { getConnectorInstance } from './connector-instances';
import { idFromKey } from './ids';
import { appendStepEvidence, insertPlan, type PlanStepInput, planWorkflowId, setPlanStatus } from './plans';

/** How the grant (or the revocation) went for one Portal-native item, applied in the caller's transaction. */
export interface NativeOutcome {
  item: BundleItem;
  changed: boolean;
}

export interface RequestPlanInput {
  tenantId: string;
  requestId: string;
  personId: string;
  items: BundleItem[];
  /** The Portal-native items, already applied in this transaction. */
  native: NativeOutcome[];
  direction: 'grant' | 'revoke';
  actor: Actor;
}

export interface RequestPlan {
  planId: string;
  workflowId: string;
  /** Whether steps remain for the plan workflow to run (downstream systems). */
  needsExecution: boolean;
}

/** The deterministic plan id of a request's grant or revocation: both commit paths record the same plan. */
export function requestPlanId(requestId: string, direction: 'grant' | 'revoke'): string {
  return idFromKey(`plan:access_request:${direction}`, requestId);
}

/** The account a person holds downstream, from their Portal identity (userName = their email). */
async function accountFor(tx: Executor, tenantId: string, personId: string): Promise<AccountSpec> {
  const person = await tx.selectFrom('people').select(['display_name', 'email']).where('tenant_id', '=', tenantId).where('id', '=', personId).executeTakeFirst();
  const displayName = person?.display_name ?? personId;
  const [given, ...rest] = displayName.trim().split(/\s+/);
  // A person without an email gets an empty userName: the step then fails terminally with that evidence.
  const email = person?.email ?? '';
  return { userName: email, email, displayName, givenName: given || displayName, familyName: rest.join(' ') || given || displayName, externalId: personId };
}

/**
 * Records the provisioning plan of a request's grant (or its revocation at expiry) in the transaction that
 * applies its Portal-native part: those steps carry `applied` / `already_in_state` evidence at once, and the
 * plan workflow runs only the downstream steps (the account first, then group memberships and assignments;
 * a revocation removes memberships and assignments and leaves the account). Idempotent on the request.
 */
export async function recordRequestPlan(tx: Executor, input: RequestPlanInput): Promise<RequestPlan> {
  const planId = requestPlanId(input.requestId, input.direction);
  const sourceRef = `access_request:${input.requestId}`;
  const steps: PlanStepInput[] = [];
  input.native.forEach(({ item }, i) => {
    if (!isNativeItem(item)) return;
    const granting = input.direction === 'grant';
    steps.push({
      key: `portal-${i + 1}`, target: { system: 'portal' },
      operation: item.kind === 'group' ? (granting ? 'add_to_group' : 'remove_from_group') : (granting ? 'assign' : 'unassign'),
      targetObject: `${item.kind}:${item.id}`, parameters: { personId: input.personId, source: 'iga_grant', sourceRef }, dependsOn: [], callbackDeadlineSeconds: null,
    });
  });
  const downstream = input.items.filter((i) => !isNativeItem(i));
  const account = downstream.length > 0 ? await accountFor(tx, input.tenantId, input.personId) : null;
  const accountSteps = new Map<string, string>();
  for (const [i, item] of downstream.entries()) {
    if (isNativeItem(item)) continue;
    const instance = await getConnectorInstance(tx, input.tenantId, item.id);
    if (!instance) continue;
    const target = { system: 'connector' as const, connectorInstanceId: instance.id, connectorKind: instance.kind };
    let accountStep = accountSteps.get(instance.id);
    if (input.direction === 'grant' && !accountStep) {
      accountStep = `account-${instance.name}`.replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 64);
      accountSteps.set(instance.id, accountStep);
      steps.push({ key: accountStep, target, operation: 'create_account', targetObject: account!.userName, parameters: { account: account! }, dependsOn: [], callbackDeadlineSeconds: null });
    }
    const isGroup = item.kind === 'connector_group';
    const operation = input.direction === 'grant' ? (isGroup ? 'add_to_group' : 'assign') : (isGroup ? 'remove_from_group' : 'unassign');
    steps.push({
      key: `downstream-${i + 1}`, target, operation, targetObject: account!.userName,
      parameters: isGroup ? { userName: account!.userName, group: item.ref } : { userName: account!.userName, assignment: item.ref },
      dependsOn: accountStep && input.direction === 'grant' ? [accountStep] : [], callbackDeadlineSeconds: null,
    });
  }
  const { created } = await insertPlan(tx, {
    id: planId, tenantId: input.tenantId, origin: { kind: 'access_request', id: input.requestId },
    reason: input.direction === 'grant' ? 'grant of an approved access request' : 'revocation of an access request at its expiry',
    createdBy: input.actor, steps,
  });
  const needsExecution = steps.some((s) => s.target.system === 'connector');
  if (created) {
    const nativeKeys: string[] = [];
    for (const [i, outcome] of input.native.entries()) {
      const key = `portal-${i + 1}`;
      nativeKeys.push(key);
      await appendStepEvidence(tx, {
        tenantId: input.tenantId, planId, stepKey: key, round: 1, attempt: 1, outcome: outcome.changed ? 'applied' : 'already_in_state', calls: [],
        detail: { appliedBy: `the ${input.direction} transaction`, target: steps[i]!.targetObject, personId: input.personId },
      });
    }
    if (!needsExecution) {
      await setPlanStatus(tx, { planId, round: 1, status: 'completed', succeeded: nativeKeys, failed: [] });
      await appendAudit(tx, {
        tenantId: input.tenantId, actor: input.actor, action: 'plan.completed', target: { kind: 'provisioning_plan', id: planId },
        details: { round: 1, succeeded: nativeKeys, failed: [] },
      });
    }
  }
  return { planId, workflowId: planWorkflowId(planId), needsExecution };
}
