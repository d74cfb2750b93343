/**
 * Access bundles and approval policies: the types and the pure rules (eligibility, quorum, who may decide).
 * Pure on purpose: the approval workflow, the API and the activities all use these same functions, and
 * the unit tests exercise them without any engine.
 */

export type TargetKind = 'role' | 'group' | 'application';

/** One Portal-native target a bundle grants. */
export interface NativeBundleItem {
  kind: TargetKind;
  id: string;
}

/**
 * A downstream target a bundle grants through a connector instance (`id`): membership of the vendor group
 * `ref`, or the vendor assignment (licence, organization) `ref`. Granting provisions the account first.
 */
export interface ConnectorBundleItem {
  kind: 'connector_group' | 'connector_assignment';
  id: string;
  ref: string;
}

export type BundleItem = NativeBundleItem | ConnectorBundleItem;

/** Whether an item is a Portal-native target (written as an access edge in Portal's own database). */
export function isNativeItem(item: BundleItem): item is NativeBundleItem {
  return item.kind === 'role' || item.kind === 'group' || item.kind === 'application';
}

/** Who approves a stage. Groups are expanded with nested groups; manager is the beneficiary's. */
export type ApproverSpec =
  | { type: 'person'; personId: string }
  | { type: 'group'; groupId: string }
  | { type: 'manager' }
  | { type: 'bundle_owner' };

/** M of N approvals, or all of the resolved approvers. */
export type Quorum = { type: 'count'; count: number } | { type: 'all' };

export interface StageTimeout {
  afterSeconds: number;
  /** `expire` ends the request; `escalate` hands the stage to other approvers for a further period. */
  action: 'expire' | 'escalate';
  escalateTo?: ApproverSpec[];
  /** How many escalation approvers must approve (default 1). */
  escalationQuorum?: Quorum;
  /** How long the escalation approvers have before the request expires (default afterSeconds). */
  escalationAfterSeconds?: number;
}

export interface ApprovalStage {
  name: string;
  approvers: ApproverSpec[];
  quorum: Quorum;
  timeout: StageTimeout;
}

export interface ApprovalPolicy {
  stages: ApprovalStage[];
  /** When true an approver may decide in only one stage of a request. */
  approverOncePerRequest: boolean;
}

/** An eligibility rule over the beneficiary's profile and group memberships (nested groups count). */
export type EligibilityRule =
  | { type: 'attribute'; attribute: string; operator: 'equals' | 'not_equals'; value: string | number | boolean }
  | { type: 'attribute'; attribute: string; operator: 'in'; values: (string | number | boolean)[] }
  | { type: 'group_member'; groupId: string }
  | { type: 'any'; rules: EligibilityRule[] };

/** What a bundle is, as of one version. */
export interface BundleDefinition {
  name: string;
  description: string | null;
  ownerPersonId: string;
  items: BundleItem[];
  maxDurationSeconds: number | null;
  /** All rules must hold; an empty list lets anyone in the tenant request the bundle. */
  eligibility: EligibilityRule[];
  policy: ApprovalPolicy;
}

export interface EligibilityFacts {
  profile: Record<string, string | number | boolean | null>;
  /** Groups the person is in, directly, through nesting or through a grant. */
  groupIds: ReadonlySet<string>;
}

function describeRule(rule: EligibilityRule): string {
  switch (rule.type) {
    case 'attribute':
      return rule.operator === 'in'
        ? `${rule.attribute} must be one of ${rule.values.map((v) => JSON.stringify(v)).join(', ')}`
        : `${rule.attribute} must ${rule.operator === 'equals' ? 'equal' : 'not equal'} ${JSON.stringify(rule.value)}`;
    case 'group_member':
      return `must be a member of group ${rule.groupId}`;
    case 'any':
      return `one of: ${rule.rules.map(describeRule).join('; ')}`;
  }
}

function holds(rule: EligibilityRule, facts: EligibilityFacts): boolean {
  switch (rule.type) {
    case 'attribute': {
      const value = facts.profile[rule.attribute];
      if (rule.operator === 'in') return value !== undefined && value !== null && rule.values.includes(value);
      if (rule.operator === 'equals') return value === rule.value;
      return value !== rule.value;
    }
    case 'group_member':
      return facts.groupIds.has(rule.groupId);
    case 'any':
      return rule.rules.some((r) => holds(r, facts));
  }
}

/** Evaluates eligibility; `reasons` names every rule that does not hold. */
export function evaluateEligibility(rules: readonly EligibilityRule[], facts: EligibilityFacts): { eligible: boolean; reasons: string[] } {
  const reasons = rules.filter((r) => !holds(r, facts)).map(describeRule);
  return { eligible: reasons.length === 0, reasons };
}

/** How many approvals a stage needs from `approverCount` resolved approvers; null when it can never be met. */
export function requiredApprovals(quorum: Quorum, approverCount: number): number | null {
  const required = quorum.type === 'all' ? approverCount : quorum.count;
  return required >= 1 && required <= approverCount ? required : null;
}

export type Decision = 'approve' | 'deny';

export interface StageDecision {
  personId: string;
  decision: Decision;
  comment: string | null;
}

/** A stage's outcome from its decisions: any deny ends it; enough approvals meet it. */
export function stageOutcome(required: number, decisions: readonly StageDecision[]): 'approved' | 'denied' | 'open' {
  if (decisions.some((d) => d.decision === 'deny')) return 'denied';
  return decisions.filter((d) => d.decision === 'approve').length >= required ? 'approved' : 'open';
}

/** Why a decision is refused. Stable strings: they are the API's problem codes. */
export type DecisionRefusal = 'request_closed' | 'self_approval' | 'not_an_approver' | 'duplicate_decision' | 'already_decided_in_earlier_stage';

export interface DecisionContext {
  open: boolean;
  beneficiaryPersonId: string;
  submittedByPersonId: string | null;
  /** Approvers of the current stage (escalation approvers included once escalated). */
  approvers: readonly string[];
  /** Who has decided in the current stage. */
  decidedThisStage: readonly string[];
  /** Who has decided in earlier stages. */
  decidedEarlier: readonly string[];
  approverOncePerRequest: boolean;
}

/** Whether `personId` may decide now, or why not. */
export function decisionRefusal(ctx: DecisionContext, personId: string): DecisionRefusal | null {
  if (!ctx.open) return 'request_closed';
  if (personId === ctx.beneficiaryPersonId || personId === ctx.submittedByPersonId) return 'self_approval';
  // Before the approver check: the stage's approvers never include an earlier decider under the
  // once-per-request rule (eligibleApprovers drops them), and the precise reason is this one.
  if (ctx.approverOncePerRequest && ctx.decidedEarlier.includes(personId)) return 'already_decided_in_earlier_stage';
  if (!ctx.approvers.includes(personId)) return 'not_an_approver';
  if (ctx.decidedThisStage.includes(personId)) return 'duplicate_decision';
  return null;
}

/** Removes the people who may never decide this stage: the beneficiary, the submitter, and earlier deciders under the once-per-request rule. */
export function eligibleApprovers(
  resolved: readonly string[], ctx: Pick<DecisionContext, 'beneficiaryPersonId' | 'submittedByPersonId' | 'decidedEarlier' | 'approverOncePerRequest'>,
): string[] {
  return [...new Set(resolved)].filter((p) => p !== ctx.beneficiaryPersonId && p !== ctx.submittedByPersonId
    && !(ctx.approverOncePerRequest && ctx.decidedEarlier.includes(p))).sort();
}
