import { expect } from 'chai';
import {
  decisionRefusal, type DecisionContext, eligibleApprovers, evaluateEligibility, requiredApprovals, stageOutcome,
} from '../../workflows/access-policy';

describe('access policy rules', () => {
  describe('requiredApprovals', () => {
    it('should need M of N, all of N, and nothing impossible', () => {
      expect(requiredApprovals({ type: 'count', count: 2 }, 3)).to.equal(2);
      expect(requiredApprovals({ type: 'all' }, 3)).to.equal(3);
      expect(requiredApprovals({ type: 'count', count: 3 }, 2)).to.equal(null);
      expect(requiredApprovals({ type: 'all' }, 0)).to.equal(null);
    });
  });

  describe('stageOutcome', () => {
    const approve = (personId: string) => ({ personId, decision: 'approve' as const, comment: null });
    it('should stay open below quorum, pass at quorum, and end on any deny', () => {
      expect(stageOutcome(2, [approve('a')])).to.equal('open');
      expect(stageOutcome(2, [approve('a'), approve('b')])).to.equal('approved');
      expect(stageOutcome(2, [approve('a'), { personId: 'b', decision: 'deny', comment: 'no' }])).to.equal('denied');
    });
  });

  describe('decisionRefusal', () => {
    const ctx: DecisionContext = {
      open: true, beneficiaryPersonId: 'alice', submittedByPersonId: 'delegate', approvers: ['m', 's1'],
      decidedThisStage: ['s1'], decidedEarlier: ['m'], approverOncePerRequest: true,
    };
    it('should refuse in a fixed order: closed, self, earlier stage, non-approver, duplicate', () => {
      expect(decisionRefusal({ ...ctx, open: false }, 'alice')).to.equal('request_closed');
      expect(decisionRefusal(ctx, 'alice')).to.equal('self_approval');
      expect(decisionRefusal(ctx, 'delegate')).to.equal('self_approval');
      expect(decisionRefusal(ctx, 'stranger')).to.equal('not_an_approver');
      expect(decisionRefusal(ctx, 's1')).to.equal('duplicate_decision');
      expect(decisionRefusal(ctx, 'm')).to.equal('already_decided_in_earlier_stage');
      expect(decisionRefusal({ ...ctx, approverOncePerRequest: false }, 'm')).to.equal(null);
      // As the run sees it: the resolved approvers of a later stage no longer list the earlier decider.
      expect(decisionRefusal({ ...ctx, approvers: ['s1'] }, 'm')).to.equal('already_decided_in_earlier_stage');
    });
  });

  describe('eligibleApprovers', () => {
    it('should drop the beneficiary, the submitter and (once-per-request) earlier deciders, without duplicates', () => {
      const base = { beneficiaryPersonId: 'alice', submittedByPersonId: 'bob', decidedEarlier: ['m'], approverOncePerRequest: true };
      expect(eligibleApprovers(['s2', 'alice', 'bob', 'm', 's1', 's2'], base)).to.deep.equal(['s1', 's2']);
      expect(eligibleApprovers(['m', 's1'], { ...base, approverOncePerRequest: false })).to.deep.equal(['m', 's1']);
    });
  });

  describe('evaluateEligibility', () => {
    const facts = { profile: { department: 'engineering', level: 3, contractor: false }, groupIds: new Set(['g1']) };
    it('should hold when every rule holds, and name each failing rule', () => {
      expect(evaluateEligibility([], facts)).to.deep.equal({ eligible: true, reasons: [] });
      expect(evaluateEligibility([
        { type: 'attribute', attribute: 'department', operator: 'equals', value: 'engineering' },
        { type: 'attribute', attribute: 'level', operator: 'in', values: [3, 4] },
        { type: 'group_member', groupId: 'g1' },
        { type: 'attribute', attribute: 'contractor', operator: 'not_equals', value: true },
      ], facts).eligible).to.equal(true);
      const verdict = evaluateEligibility([
        { type: 'attribute', attribute: 'department', operator: 'equals', value: 'sales' },
        { type: 'any', rules: [{ type: 'group_member', groupId: 'g2' }, { type: 'attribute', attribute: 'region', operator: 'in', values: ['eu'] }] },
      ], facts);
      expect(verdict.eligible).to.equal(false);
      expect(verdict.reasons).to.deep.equal(['department must equal "sales"', 'one of: must be a member of group g2; region must be one of "eu"']);
    });
  });
});
