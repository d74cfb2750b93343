import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { listAudit } from '../../db/repositories/audit';
import { createCustomAttribute, replaceSourcePrecedence } from '../../db/repositories/profile-attributes';
import {
  applyProfileObservation, getIdentityProfile, getResolutionIssue, listProfileHistory, listResolutionIssues, type ProfileObservation,
  ProfileSubjectNotFoundError, resolveIssue, ResolutionValueError,
} from '../../db/repositories/profiles';
import { getPerson } from '../../db/repositories/people';
import { insertPendingPerson } from '../../db/repositories/people';
import { seedPerson, seedTenant } from '../support/fixtures';
import { testEnv } from '../support/env';

const actor = { kind: 'system' as const, id: 'test' };

function observe(tenantId: string, personId: string, source: ProfileObservation['source'], values: ProfileObservation['values'], extra: Partial<ProfileObservation> = {}) {
  const db = testEnv().db;
  return db.transaction().execute((tx) => applyProfileObservation(tx, {
    tenantId, personId, source, sourceRecordId: `${source}-rec-1`, observedAt: new Date('2026-11-20T10:00:00Z'), values, actor, ...extra,
  }));
}

describe('identity profiles (repository)', () => {
  let tenantId: string;
  let personId: string;
  beforeEach(async () => {
    tenantId = (await seedTenant('customer', 'prof')).id;
    personId = await seedPerson(tenantId, 'Pat');
  });

  describe('when sources disagree under the default precedence', () => {
    it('should let HR beat SCIM: a SCIM value disagreeing with HR opens an issue and keeps the HR value', async () => {
      const hr = await observe(tenantId, personId, 'hr_connector', { department: 'Engineering', jobTitle: 'Engineer' });
      expect(hr.applied).to.deep.equal(['department', 'jobTitle']);
      expect(hr.changes).to.deep.include({ attribute: 'department', from: null, to: 'Engineering' });

      const scim = await observe(tenantId, personId, 'scim', { department: 'Sales', jobTitle: 'Engineer' });
      expect(scim.applied).to.deep.equal([]);
      expect(scim.unchanged).to.deep.equal(['jobTitle']);
      expect(scim.issuesOpened).to.have.length(1);
      expect(scim.changes).to.deep.equal([]);

      const profile = await getIdentityProfile(testEnv().db, tenantId, personId);
      expect(profile?.values.department).to.equal('Engineering');
      expect(profile?.provenance.department).to.include({ source: 'hr_connector', sourceRecordId: 'hr_connector-rec-1' });
      expect(profile?.openIssueIds).to.deep.equal(scim.issuesOpened);

      const issue = await getResolutionIssue(testEnv().db, tenantId, scim.issuesOpened[0]!);
      expect(issue).to.include({ kind: 'source_conflict', status: 'open', attribute: 'department', personId });
      expect(issue?.current).to.include({ value: 'Engineering', source: 'hr_connector' });
      expect(issue?.candidates.map((c) => [c.source, c.value])).to.deep.equal([['scim', 'Sales']]);
      // The readers that predate provenance see the HR value too.
      expect((await getPerson(testEnv().db, tenantId, personId))?.profile).to.deep.equal({ department: 'Engineering', jobTitle: 'Engineer' });
    });

    it('should let a higher source overwrite a lower one, keeping the previous value in provenance', async () => {
      await observe(tenantId, personId, 'scim', { costCenter: 'CC-1' });
      const hr = await observe(tenantId, personId, 'hr_connector', { costCenter: 'CC-2' });
      expect(hr.applied).to.deep.equal(['costCenter']);
      expect(hr.changes).to.deep.equal([{ attribute: 'costCenter', from: 'CC-1', to: 'CC-2' }]);
      const profile = await getIdentityProfile(testEnv().db, tenantId, personId);
      expect(profile?.provenance.costCenter).to.include({ value: 'CC-2', source: 'hr_connector', previousValue: 'CC-1' });
      const history = await listProfileHistory(testEnv().db, tenantId, personId, { attribute: 'costCenter' }, null, 50);
      expect(history.items.map((h) => [h.outcome, h.source, h.value, h.previousValue])).to.deep.equal([
        ['applied', 'scim', 'CC-1', null], ['applied', 'hr_connector', 'CC-2', 'CC-1'],
      ]);
    });

    it('should follow a tenant-set order for an attribute', async () => {
      await replaceSourcePrecedence(testEnv().db, tenantId, { default: null, attributes: { location: ['scim', 'hr_connector', 'directory_import', 'federation', 'manual'] } });
      await observe(tenantId, personId, 'hr_connector', { location: 'Berlin', division: 'R&D' });
      const scim = await observe(tenantId, personId, 'scim', { location: 'Paris', division: 'Ops' });
      expect(scim.applied).to.deep.equal(['location']);
      expect(scim.issuesOpened).to.have.length(1);
      expect((await getIdentityProfile(testEnv().db, tenantId, personId))?.values).to.include({ location: 'Paris', division: 'R&D' });
    });

    it('should let a higher source confirming a value take over its provenance', async () => {
      await observe(tenantId, personId, 'directory_import', { company: 'Acme Ltd' });
      const hr = await observe(tenantId, personId, 'hr_connector', { company: 'Acme Ltd' });
      expect(hr.unchanged).to.deep.equal(['company']);
      expect(hr.changes).to.deep.equal([]);
      expect((await getIdentityProfile(testEnv().db, tenantId, personId))?.provenance.company?.source).to.equal('hr_connector');
      const scim = await observe(tenantId, personId, 'scim', { company: 'Acme Inc' });
      expect(scim.issuesOpened).to.have.length(1);
    });
  });

  describe('when the same observation arrives twice', () => {
    it('should change nothing the second time and open no second issue', async () => {
      await observe(tenantId, personId, 'hr_connector', { department: 'Engineering' });
      const first = await observe(tenantId, personId, 'scim', { department: 'Sales', jobCode: 'J1' });
      const auditBefore = (await listAudit(testEnv().db, tenantId, {}, null, 200)).items.length;
      const historyBefore = (await listProfileHistory(testEnv().db, tenantId, personId, {}, null, 200)).items.length;
      const second = await observe(tenantId, personId, 'scim', { department: 'Sales', jobCode: 'J1' });
      expect(second).to.deep.equal({ applied: [], unchanged: ['department', 'jobCode'], issuesOpened: [], rejected: [], changes: [] });
      expect((await listAudit(testEnv().db, tenantId, {}, null, 200)).items.length).to.equal(auditBefore);
      expect((await listProfileHistory(testEnv().db, tenantId, personId, {}, null, 200)).items.length).to.equal(historyBefore);
      const open = await listResolutionIssues(testEnv().db, tenantId, { personId, status: 'open' }, null, 50);
      expect(open.items.map((i) => i.id)).to.deep.equal(first.issuesOpened);
    });

    it('should update the open issue, not duplicate it, when the lower source sends a new value', async () => {
      await observe(tenantId, personId, 'hr_connector', { department: 'Engineering' });
      const a = await observe(tenantId, personId, 'scim', { department: 'Sales' });
      const b = await observe(tenantId, personId, 'scim', { department: 'Marketing' }, { sourceRecordId: 'scim-rec-2', observedAt: new Date('2026-11-21T10:00:00Z') });
      const c = await observe(tenantId, personId, 'directory_import', { department: 'Support' });
      expect(b.issuesOpened).to.deep.equal(a.issuesOpened);
      expect(c.issuesOpened).to.deep.equal(a.issuesOpened);
      const issue = await getResolutionIssue(testEnv().db, tenantId, a.issuesOpened[0]!);
      expect(issue?.candidates.map((x) => [x.source, x.value])).to.deep.equal([['scim', 'Marketing'], ['directory_import', 'Support']]);
    });

    it('should ignore an older observation from the same source', async () => {
      await observe(tenantId, personId, 'hr_connector', { jobTitle: 'Lead' }, { observedAt: new Date('2026-11-22T00:00:00Z'), sourceRecordId: 'e2' });
      const late = await observe(tenantId, personId, 'hr_connector', { jobTitle: 'Engineer' }, { observedAt: new Date('2026-11-21T00:00:00Z'), sourceRecordId: 'e1' });
      expect(late.unchanged).to.deep.equal(['jobTitle']);
      expect((await getIdentityProfile(testEnv().db, tenantId, personId))?.values.jobTitle).to.equal('Lead');
    });
  });

  describe('when a manager reference does not resolve', () => {
    it('should open an issue and keep the existing manager', async () => {
      const boss = await seedPerson(tenantId, 'Boss');
      await observe(tenantId, personId, 'hr_connector', { manager: boss });
      const ghost = randomUUID();
      const res = await observe(tenantId, personId, 'hr_connector', { manager: ghost }, { sourceRecordId: 'e2', observedAt: new Date('2026-11-21T00:00:00Z') });
      expect(res.applied).to.deep.equal([]);
      expect(res.issuesOpened).to.have.length(1);
      const issue = await getResolutionIssue(testEnv().db, tenantId, res.issuesOpened[0]!);
      expect(issue).to.include({ kind: 'unresolved_reference', attribute: 'manager' });
      expect(issue?.candidates[0]?.value).to.equal(ghost);
      expect((await getIdentityProfile(testEnv().db, tenantId, personId))?.values.manager).to.equal(boss);
    });

    it('should not accept a person of another tenant as manager', async () => {
      const other = await seedTenant('customer', 'other');
      const outsider = await seedPerson(other.id, 'Outsider');
      const res = await observe(tenantId, personId, 'hr_connector', { manager: outsider });
      expect(res.issuesOpened).to.have.length(1);
      expect((await getIdentityProfile(testEnv().db, tenantId, personId))?.values.manager).to.equal(undefined);
    });

    it('should reject a person as their own manager', async () => {
      const res = await observe(tenantId, personId, 'hr_connector', { manager: personId });
      expect(res.rejected).to.deep.equal([{ attribute: 'manager', reason: 'a person cannot be their own manager' }]);
    });
  });

  describe('when values are invalid', () => {
    it('should reject each bad field by name and store nothing for them', async () => {
      const res = await observe(tenantId, personId, 'hr_connector', {
        hireDate: '2026-02-30', fte: 1.5, workerType: 'wizard', workCountry: 'Germany', nonsense: 'x', department: ' Ops ', employmentStatus: 'On Leave',
      });
      expect(res.rejected.map((r) => r.attribute)).to.have.members(['hireDate', 'fte', 'workerType', 'workCountry', 'nonsense']);
      expect(res.applied).to.deep.equal(['department', 'employmentStatus']);
      const profile = await getIdentityProfile(testEnv().db, tenantId, personId);
      expect(profile?.values).to.deep.equal({ department: 'Ops', employmentStatus: 'on_leave' });
    });

    it('should refuse an unknown person', async () => {
      let caught: unknown;
      try {
        await observe(tenantId, randomUUID(), 'hr_connector', { department: 'X' });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(ProfileSubjectNotFoundError);
    });
  });

  describe('emails', () => {
    it('should keep a list with exactly one primary, and reject a list without', async () => {
      const ok = await observe(tenantId, personId, 'scim', {}, { emails: [{ type: 'home', value: 'Pat@Home.test', primary: false }, { type: 'work', value: 'pat@acme.test', primary: true }] });
      expect(ok.applied).to.deep.equal(['emails']);
      expect((await getIdentityProfile(testEnv().db, tenantId, personId))?.emails).to.deep.equal([
        { type: 'work', value: 'pat@acme.test', primary: true }, { type: 'home', value: 'pat@home.test', primary: false },
      ]);
      const none = await observe(tenantId, personId, 'scim', {}, { emails: [{ type: 'work', value: 'a@b.test', primary: false }], sourceRecordId: 'x' });
      expect(none.rejected.map((r) => r.attribute)).to.deep.equal(['emails']);
      const two = await observe(tenantId, personId, 'scim', {}, { emails: [{ type: 'work', value: 'a@b.test', primary: true }, { type: 'home', value: 'c@d.test', primary: true }], sourceRecordId: 'y' });
      expect(two.rejected[0]?.reason).to.match(/exactly one/);
      // Same list in another order is the same value.
      const again = await observe(tenantId, personId, 'scim', {}, { emails: [{ type: 'work', value: 'pat@acme.test', primary: true }, { type: 'home', value: 'pat@home.test', primary: false }], sourceRecordId: 'z' });
      expect(again.unchanged).to.deep.equal(['emails']);
    });
  });

  describe('custom attributes', () => {
    it('should validate values by the definition\'s type and rules', async () => {
      const db = testEnv().db;
      const def = { required: false, mutability: 'admin_editable' as const, enumValues: null, pattern: null, min: null, max: null, description: null };
      await createCustomAttribute(db, tenantId, { ...def, key: 'badge', label: 'Badge', type: 'string', pattern: 'B-[0-9]{4}' });
      await createCustomAttribute(db, tenantId, { ...def, key: 'clearance', label: 'Clearance', type: 'number', min: 1, max: 5 });
      await createCustomAttribute(db, tenantId, { ...def, key: 'remote', label: 'Remote', type: 'boolean' });
      await createCustomAttribute(db, tenantId, { ...def, key: 'shift', label: 'Shift', type: 'enum', enumValues: ['day', 'night'] });
      await createCustomAttribute(db, tenantId, { ...def, key: 'buddy', label: 'Buddy', type: 'reference' });
      await createCustomAttribute(db, tenantId, { ...def, key: 'reviewDate', label: 'Review', type: 'date', required: true });
      const bad = await observe(tenantId, personId, 'hr_connector', { badge: 'X-1', clearance: 9, remote: 'maybe', shift: 'evening', buddy: 'nope', reviewDate: null });
      expect(bad.rejected.map((r) => r.attribute)).to.deep.equal(['badge', 'buddy', 'clearance', 'remote', 'reviewDate', 'shift']);
      const buddy = await seedPerson(tenantId, 'Buddy');
      const good = await observe(tenantId, personId, 'hr_connector', { badge: 'B-0042', clearance: '3', remote: 'true', shift: 'Night', buddy, reviewDate: '2027-01-31' }, { sourceRecordId: 'e2' });
      expect(good.rejected).to.deep.equal([]);
      expect((await getIdentityProfile(db, tenantId, personId))?.values).to.deep.include({ badge: 'B-0042', clearance: 3, remote: true, shift: 'night', buddy, reviewDate: '2027-01-31' });
    });
  });

  describe('resolving an issue', () => {
    it('should apply a chosen candidate with its own provenance, audit it, and not re-raise the rejected value', async () => {
      const db = testEnv().db;
      await observe(tenantId, personId, 'hr_connector', { department: 'Engineering' });
      const { issuesOpened: [issueId] } = await observe(tenantId, personId, 'scim', { department: 'Sales' });
      const resolved = await db.transaction().execute((tx) => resolveIssue(tx, {
        tenantId, issueId: issueId!, choice: { candidate: 0 }, comment: 'HR is behind', actor: { kind: 'api_token', id: 'tok' }, requestId: 'req-1',
      }));
      expect(resolved).to.include({ status: 'resolved' });
      expect(resolved?.resolution).to.include({ choice: 'candidate', value: 'Sales', source: 'scim', comment: 'HR is behind' });
      const profile = await getIdentityProfile(db, tenantId, personId);
      expect(profile?.values.department).to.equal('Sales');
      expect(profile?.provenance.department).to.include({ source: 'scim', previousValue: 'Engineering', resolutionIssueId: issueId });
      const audit = await listAudit(db, tenantId, { targetId: issueId }, null, 50);
      expect(audit.items.map((a) => a.action)).to.deep.equal(['profile.issue_opened', 'profile.issue_resolved']);
      expect(audit.items[1]?.requestId).to.equal('req-1');

      // HR re-sending the value the decision turned down is not a new disagreement; a new HR value is applied.
      const again = await observe(tenantId, personId, 'hr_connector', { department: 'Engineering' }, { sourceRecordId: 'e2', observedAt: new Date('2026-11-21T00:00:00Z') });
      expect(again).to.include.keys('unchanged');
      expect(again.unchanged).to.deep.equal(['department']);
      const moved = await observe(tenantId, personId, 'hr_connector', { department: 'Finance' }, { sourceRecordId: 'e3', observedAt: new Date('2026-11-22T00:00:00Z') });
      expect(moved.changes).to.deep.equal([{ attribute: 'department', from: 'Sales', to: 'Finance' }]);
    });

    it('should apply a manual value as source manual, refuse invalid ones, and refuse a second resolution', async () => {
      const db = testEnv().db;
      const res = await observe(tenantId, personId, 'hr_connector', { manager: randomUUID() });
      const issueId = res.issuesOpened[0]!;
      const resolve = (choice: Parameters<typeof resolveIssue>[1]['choice']) => db.transaction().execute((tx) => resolveIssue(tx, { tenantId, issueId, choice, comment: null, actor, requestId: null }));
      let caught: unknown;
      try {
        await resolve({ candidate: 0 });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(ResolutionValueError).with.property('kind', 'unresolved_reference');
      const boss = await seedPerson(tenantId, 'Boss');
      const done = await resolve({ value: boss });
      expect(done?.resolution).to.include({ choice: 'manual_value', source: 'manual', value: boss });
      expect((await getIdentityProfile(db, tenantId, personId))?.provenance.manager).to.include({ source: 'manual', sourceRecordId: `resolution:${issueId}` });
      caught = undefined;
      try {
        await resolve({ keepCurrent: true });
      } catch (err) {
        caught = err;
      }
      expect(caught?.constructor.name).to.equal('IssueAlreadyResolvedError');
    });

    it('should close an open issue when a higher source settles on the candidate value', async () => {
      await observe(tenantId, personId, 'hr_connector', { department: 'Engineering' });
      const { issuesOpened: [issueId] } = await observe(tenantId, personId, 'scim', { department: 'Sales' });
      await observe(tenantId, personId, 'hr_connector', { department: 'Sales' }, { sourceRecordId: 'e2', observedAt: new Date('2026-11-21T00:00:00Z') });
      expect((await getResolutionIssue(testEnv().db, tenantId, issueId!))?.resolution).to.include({ choice: 'superseded' });
    });
  });

  describe('membership', () => {
    it('should create the tenant membership when missing', async () => {
      const db = testEnv().db;
      const id = randomUUID();
      await insertPendingPerson(db, { id, tenantId, displayName: 'New', email: null, setupWorkflowId: 'x' });
      expect(await getIdentityProfile(db, tenantId, id)).to.equal(null);
      const res = await observe(tenantId, id, 'hr_connector', { employeeNumber: 'E-1' });
      expect(res.applied).to.deep.equal(['employeeNumber']);
      expect((await getIdentityProfile(db, tenantId, id))?.values).to.deep.equal({ employeeNumber: 'E-1' });
    });
  });

  describe('history', () => {
    it('should be append-only', async () => {
      await observe(tenantId, personId, 'hr_connector', { department: 'Engineering' });
      let caught: unknown;
      try {
        await testEnv().db.deleteFrom('profile_attribute_history').where('person_id', '=', personId).execute();
      } catch (err) {
        caught = err;
      }
      expect(String(caught)).to.match(/append-only/);
    });
  });
});
