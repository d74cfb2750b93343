import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { applyProfileObservation, type ProfileObservation } from '../../db/repositories/profiles';
import { ApiClient, seedPerson, seedPersonToken } from '../support/fixtures';
import { testEnv } from '../support/env';
import { createWorld, type World } from '../support/world';

function observe(tenantId: string, personId: string, source: ProfileObservation['source'], values: ProfileObservation['values'], recordId = `${source}-1`) {
  return testEnv().db.transaction().execute((tx) => applyProfileObservation(tx, {
    tenantId, personId, source, sourceRecordId: recordId, observedAt: new Date(), values, actor: { kind: 'system', id: 'test' },
  }));
}

describe('identity profiles API', () => {
  let w: World;
  let base: string;
  before(async () => {
    w = await createWorld();
    base = `/v1/tenants/${w.acme.id}`;
  });
  after(async () => w.stop());

  const patch = (client: ApiClient, path: string, body: unknown) => client.request('PATCH', path, body);
  const put = (client: ApiClient, path: string, body: unknown) => client.request('PUT', path, body);

  describe('reading a profile', () => {
    it('should show values, emails and per-attribute provenance', async () => {
      const person = await seedPerson(w.acme.id, 'Reader');
      await testEnv().db.transaction().execute((tx) => applyProfileObservation(tx, {
        tenantId: w.acme.id, personId: person, source: 'hr_connector', sourceRecordId: 'evt-7', observedAt: new Date('2026-11-20T09:00:00Z'),
        values: { department: 'Engineering', fte: '0.8', hireDate: '2026-01-05' }, emails: [{ type: 'work', value: 'r@acme.test', primary: true }],
        actor: { kind: 'system', id: 'test' },
      }));
      const res = await w.asAcme.get(`${base}/people/${person}/profile`);
      expect(res.status).to.equal(200);
      expect(res.body.values).to.deep.equal({ department: 'Engineering', fte: 0.8, hireDate: '2026-01-05' });
      expect(res.body.emails).to.deep.equal([{ type: 'work', value: 'r@acme.test', primary: true }]);
      expect(res.body.provenance.department).to.include({ source: 'hr_connector', sourceRecordId: 'evt-7', observedAt: '2026-11-20T09:00:00.000Z', previousValue: null });
      expect(res.body.provenance.emails.source).to.equal('hr_connector');
      // The existing person read shows the same current values.
      expect((await w.asAcme.get(`${base}/people/${person}`)).body.profile).to.deep.equal(res.body.values);
    });
  });

  describe('an administrator editing a profile', () => {
    it('should apply admin-editable values as source manual and audit them', async () => {
      const person = await seedPerson(w.acme.id, 'Edited');
      const res = await patch(w.asAcme, `${base}/people/${person}/profile`, { values: { jobTitle: 'Analyst', workCountry: 'de' } });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.result.applied).to.deep.equal(['jobTitle', 'workCountry']);
      expect(res.body.profile.values).to.include({ jobTitle: 'Analyst', workCountry: 'DE' });
      expect(res.body.profile.provenance.jobTitle.source).to.equal('manual');
      const audit = await w.asAcme.get(`${base}/audit-events?targetId=${person}&action=profile.updated`);
      expect(audit.body.items[0].details).to.deep.include({ source: 'manual', changed: ['jobTitle', 'workCountry'] });
    });

    it('should refuse source_only attributes with attribute_read_only and change nothing', async () => {
      const person = await seedPerson(w.acme.id, 'ReadOnly');
      const res = await patch(w.asAcme, `${base}/people/${person}/profile`, { values: { jobTitle: 'X', hireDate: '2026-01-01', employeeNumber: 'E1' } });
      expect(res.status).to.equal(403);
      expect(res.body.code).to.equal('attribute_read_only');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.have.members(['body.values.hireDate', 'body.values.employeeNumber']);
      expect((await w.asAcme.get(`${base}/people/${person}/profile`)).body.values).to.deep.equal({});
    });

    it('should refuse invalid values naming each field, and unresolvable references', async () => {
      const person = await seedPerson(w.acme.id, 'Invalid');
      const bad = await patch(w.asAcme, `${base}/people/${person}/profile`, {
        values: { fte: 2, contractEndDate: '31/12/2026', department: 'Fine', nope: 1 },
        emails: [{ type: 'work', value: 'a@acme.test', primary: false }],
      });
      expect(bad.status).to.equal(400);
      expect(bad.body.code).to.equal('validation_failed');
      expect(bad.body.errors.map((e: { path: string }) => e.path)).to.have.members(['body.values.fte', 'body.values.contractEndDate', 'body.values.nope', 'body.emails']);
      const ref = await patch(w.asAcme, `${base}/people/${person}/profile`, { values: { manager: randomUUID() } });
      expect(ref.status).to.equal(422);
      expect(ref.body.code).to.equal('reference_not_found');
      expect((await w.asAcme.get(`${base}/people/${person}/profile`)).body.values).to.deep.equal({});
    });

    it('should not overwrite an HR value: the edit opens a resolution issue', async () => {
      const person = await seedPerson(w.acme.id, 'Contested');
      await observe(w.acme.id, person, 'hr_connector', { department: 'Engineering' });
      const res = await patch(w.asAcme, `${base}/people/${person}/profile`, { values: { department: 'Sales' } });
      expect(res.status).to.equal(200);
      expect(res.body.result.issuesOpened).to.have.length(1);
      expect(res.body.profile.values.department).to.equal('Engineering');
    });
  });

  describe('a person editing their own profile', () => {
    it('should allow only self-editable attributes', async () => {
      const attr = await w.asAcme.post(`${base}/profile-attributes`, { key: 'pronouns', label: 'Pronouns', type: 'string', mutability: 'self_editable', max: 40 });
      expect(attr.status, JSON.stringify(attr.body)).to.equal(201);
      await w.asAcme.post(`${base}/profile-attributes`, { key: 'deskCode', label: 'Desk', type: 'string', mutability: 'admin_editable' });
      const person = await seedPerson(w.acme.id, 'Self');
      const me = w.anonymous.as(await seedPersonToken(w.acme.id, person, ['portal.profiles.self_edit']));
      const ok = await patch(me, `${base}/me/profile`, { values: { pronouns: 'they/them', preferredName: 'Sam' } });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      expect(ok.body.profile.values).to.deep.equal({ pronouns: 'they/them', preferredName: 'Sam' });
      const refused = await patch(me, `${base}/me/profile`, { values: { deskCode: 'D1', jobTitle: 'CEO', pronouns: 'she/her' } });
      expect(refused.status).to.equal(403);
      expect(refused.body.code).to.equal('attribute_not_self_editable');
      expect(refused.body.errors.map((e: { path: string }) => e.path)).to.have.members(['body.values.deskCode', 'body.values.jobTitle']);
      expect((await me.get(`${base}/me/profile`)).body.values).to.deep.equal({ pronouns: 'they/them', preferredName: 'Sam' });
      // Self-edit is not admin edit: the person's token cannot reach the admin route.
      expect((await patch(me, `${base}/people/${person}/profile`, { values: { preferredName: 'X' } })).body.code).to.equal('forbidden');
      // A service token has no "self".
      expect((await w.asAcme.get(`${base}/me/profile`)).body.code).to.equal('person_required');
    });
  });

  describe('custom attribute definitions', () => {
    it('should create, read, update and delete, refusing bad definitions with named fields', async () => {
      const reserved = await w.asAcme.post(`${base}/profile-attributes`, { key: 'department', label: 'D', type: 'string' });
      expect(reserved.body.code).to.equal('validation_failed');
      expect(reserved.body.errors[0].path).to.equal('body.key');
      const noValues = await w.asAcme.post(`${base}/profile-attributes`, { key: 'tier', label: 'Tier', type: 'enum' });
      expect(noValues.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.enumValues']);
      const badPattern = await w.asAcme.post(`${base}/profile-attributes`, { key: 'code', label: 'Code', type: 'string', pattern: '([' });
      expect(badPattern.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.pattern']);

      const created = await w.asAcme.post(`${base}/profile-attributes`, { key: 'tier', label: 'Tier', type: 'enum', enumValues: ['gold', 'silver'], required: true });
      expect(created.status).to.equal(201);
      expect(created.body).to.include({ key: 'tier', type: 'enum', required: true, mutability: 'admin_editable' });
      expect((await w.asAcme.post(`${base}/profile-attributes`, { key: 'tier', label: 'Again', type: 'string' })).body.code).to.equal('name_taken');
      const id = created.body.id;
      expect((await w.asAcme.get(`${base}/profile-attributes/${id}`)).body.key).to.equal('tier');
      expect((await patch(w.asAcme, `${base}/profile-attributes/${id}`, { type: 'string' })).body.code).to.equal('validation_failed');
      const updated = await patch(w.asAcme, `${base}/profile-attributes/${id}`, { enumValues: ['gold', 'silver', 'bronze'], mutability: 'source_only' });
      expect(updated.body).to.include({ mutability: 'source_only' });

      const person = await seedPerson(w.acme.id, 'Tiered');
      expect((await patch(w.asAcme, `${base}/people/${person}/profile`, { values: { tier: 'gold' } })).body.code).to.equal('attribute_read_only');
      await observe(w.acme.id, person, 'hr_connector', { tier: 'Bronze' });
      expect((await w.asAcme.get(`${base}/people/${person}/profile`)).body.values.tier).to.equal('bronze');
      const inUse = await w.asAcme.delete(`${base}/profile-attributes/${id}`);
      expect(inUse.status).to.equal(409);
      expect(inUse.body.code).to.equal('attribute_in_use');

      const spare = (await w.asAcme.post(`${base}/profile-attributes`, { key: 'spare', label: 'Spare', type: 'boolean' })).body.id;
      expect((await w.asAcme.delete(`${base}/profile-attributes/${spare}`)).status).to.equal(204);
      expect((await w.asAcme.get(`${base}/profile-attributes/${spare}`)).body.code).to.equal('not_found');
      const actions = (await w.asAcme.get(`${base}/audit-events?targetId=${spare}`)).body.items.map((a: { action: string }) => a.action);
      expect(actions).to.deep.equal(['profile.attribute_defined', 'profile.attribute_deleted']);
    });
  });

  describe('source precedence', () => {
    it('should show the built-in default, and replace the configuration', async () => {
      const t = (await w.asOperator.post('/v1/tenants', { kind: 'customer', slug: `prec-${Date.now()}`, name: 'Prec' })).body.id;
      const initial = await w.asOperator.get(`/v1/tenants/${t}/profile-precedence`);
      expect(initial.body).to.deep.equal({
        default: ['hr_connector', 'scim', 'directory_import', 'federation', 'manual'], defaultIsCustom: false,
        builtInDefault: ['hr_connector', 'scim', 'directory_import', 'federation', 'manual'], attributes: {},
      });
      const bad = await put(w.asOperator, `/v1/tenants/${t}/profile-precedence`, { attributes: { department: ['scim', 'scim', 'manual', 'federation', 'hr_connector'], nope: ['scim', 'hr_connector', 'directory_import', 'federation', 'manual'] } });
      expect(bad.status).to.equal(400);
      const order = ['manual', 'hr_connector', 'scim', 'directory_import', 'federation'];
      const ok = await put(w.asOperator, `/v1/tenants/${t}/profile-precedence`, { attributes: { preferredName: order } });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      expect(ok.body.attributes).to.deep.equal({ preferredName: order });
      const unknown = await put(w.asOperator, `/v1/tenants/${t}/profile-precedence`, { attributes: { nope: order } });
      expect(unknown.body.errors[0].path).to.equal('body.attributes.nope');
    });
  });

  describe('the resolution queue', () => {
    it('should list, filter, read and resolve, with audit', async () => {
      const person = await seedPerson(w.acme.id, 'Queued');
      await observe(w.acme.id, person, 'hr_connector', { department: 'Engineering', jobTitle: 'Engineer' });
      await observe(w.acme.id, person, 'scim', { department: 'Sales', jobTitle: 'Sales Engineer' });
      const list = await w.asAcme.get(`${base}/resolution-issues?personId=${person}&status=open`);
      expect(list.body.items.map((i: { attribute: string }) => i.attribute)).to.deep.equal(['department', 'jobTitle']);
      const byAttr = await w.asAcme.get(`${base}/resolution-issues?personId=${person}&attribute=jobTitle`);
      expect(byAttr.body.items).to.have.length(1);
      const issueId = list.body.items[0].id;
      const read = await w.asAcme.get(`${base}/resolution-issues/${issueId}`);
      expect(read.body.current).to.include({ value: 'Engineering', source: 'hr_connector' });
      expect(read.body.candidates[0]).to.include({ source: 'scim', value: 'Sales' });

      expect((await w.asAcme.post(`${base}/resolution-issues/${issueId}/resolve`, { candidate: 3 })).body.code).to.equal('validation_failed');
      expect((await w.asAcme.post(`${base}/resolution-issues/${issueId}/resolve`, { candidate: 0, value: 'x' })).body.code).to.equal('validation_failed');
      const resolved = await w.asAcme.post(`${base}/resolution-issues/${issueId}/resolve`, { value: 'Solutions', comment: 'agreed with HR' });
      expect(resolved.status, JSON.stringify(resolved.body)).to.equal(200);
      expect(resolved.body).to.include({ status: 'resolved' });
      expect(resolved.body.resolution).to.include({ choice: 'manual_value', value: 'Solutions', source: 'manual', comment: 'agreed with HR' });
      const profile = (await w.asAcme.get(`${base}/people/${person}/profile`)).body;
      expect(profile.values.department).to.equal('Solutions');
      expect(profile.provenance.department).to.include({ source: 'manual', previousValue: 'Engineering', resolutionIssueId: issueId });
      expect((await w.asAcme.post(`${base}/resolution-issues/${issueId}/resolve`, { keepCurrent: true })).body.code).to.equal('issue_resolved');
      const audit = await w.asAcme.get(`${base}/audit-events?targetId=${issueId}`);
      expect(audit.body.items.map((a: { action: string }) => a.action)).to.deep.equal(['profile.issue_opened', 'profile.issue_resolved']);
      const history = await w.asAcme.get(`${base}/people/${person}/profile/history?attribute=department`);
      expect(history.body.items.map((h: { outcome: string }) => h.outcome)).to.deep.equal(['applied', 'conflict', 'resolved']);

      const keep = list.body.items[1].id;
      const kept = await w.asAcme.post(`${base}/resolution-issues/${keep}/resolve`, { keepCurrent: true });
      expect(kept.body.resolution).to.include({ choice: 'keep_current', value: 'Engineer', source: 'hr_connector' });
      expect((await w.asAcme.get(`${base}/resolution-issues?personId=${person}&status=open`)).body.items).to.deep.equal([]);
    });

    it('should refuse a manager candidate that still does not resolve', async () => {
      const person = await seedPerson(w.acme.id, 'Managed');
      const { issuesOpened: [issueId] } = await observe(w.acme.id, person, 'hr_connector', { manager: randomUUID() });
      const res = await w.asAcme.post(`${base}/resolution-issues/${issueId}/resolve`, { candidate: 0 });
      expect(res.status).to.equal(422);
      expect(res.body.code).to.equal('reference_not_found');
      expect((await w.asAcme.get(`${base}/resolution-issues/${issueId}`)).body.status).to.equal('open');
    });
  });

  describe('ids of another tenant', () => {
    it('should answer not_found for another tenant\'s person, issue and attribute, and change nothing', async () => {
      const theirs = await seedPerson(w.globex.id, 'Globex person');
      await observe(w.globex.id, theirs, 'hr_connector', { department: 'Globex R&D' });
      const { issuesOpened: [issueId] } = await observe(w.globex.id, theirs, 'scim', { department: 'Globex Sales' });
      const attr = (await w.asGlobex.post(`/v1/tenants/${w.globex.id}/profile-attributes`, { key: 'globexOnly', label: 'G', type: 'string' })).body.id;

      expect((await w.asAcme.get(`${base}/people/${theirs}/profile`)).body.code).to.equal('not_found');
      expect((await patch(w.asAcme, `${base}/people/${theirs}/profile`, { values: { jobTitle: 'Spy' } })).body.code).to.equal('not_found');
      expect((await w.asAcme.get(`${base}/people/${theirs}/profile/history`)).body.code).to.equal('not_found');
      expect((await w.asAcme.get(`${base}/resolution-issues/${issueId}`)).body.code).to.equal('not_found');
      expect((await w.asAcme.post(`${base}/resolution-issues/${issueId}/resolve`, { candidate: 0 })).body.code).to.equal('not_found');
      expect((await w.asAcme.get(`${base}/resolution-issues?personId=${theirs}`)).body.items).to.deep.equal([]);
      expect((await w.asAcme.get(`${base}/profile-attributes/${attr}`)).body.code).to.equal('not_found');
      expect((await w.asAcme.delete(`${base}/profile-attributes/${attr}`)).body.code).to.equal('not_found');
      // A person of another tenant is not a valid manager here.
      const mine = await seedPerson(w.acme.id, 'Acme person');
      expect((await patch(w.asAcme, `${base}/people/${mine}/profile`, { values: { manager: theirs } })).body.code).to.equal('reference_not_found');

      const issue = await w.asGlobex.get(`/v1/tenants/${w.globex.id}/resolution-issues/${issueId}`);
      expect(issue.body.status).to.equal('open');
      expect((await w.asGlobex.get(`/v1/tenants/${w.globex.id}/people/${theirs}/profile`)).body.values).to.deep.equal({ department: 'Globex R&D' });
    });
  });
});
