import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { lifecycleActivities } from '../../activities/lifecycle';
import type { ApiDeps } from '../../api/context';
import { HrDispatcher, type HrDispatcherOptions } from '../../api/hr-dispatch';
import { signHrPayload } from '../../api/hr-signature';
import { createCatalogObject } from '../../db/repositories/catalog';
import { type HrEvent, lockHrIntake, personIdForEmployee, storeHrEvents } from '../../db/repositories/hr';
import type { Tenant } from '../../db/repositories/tenants';
import { kickoffSignal, lifecycleStateQuery } from '../../workflows/messages';
import { lifecycleWorkflowId } from '../../workflows/lifecycle.types';
import { testEnv, testLogger } from '../support/env';
import { ApiClient, type ApiResponse, eventually, type RunningApi, type RunningWorker, seedTenant, seedToken, startApi, startWorker, testSecretKey, uniqueTaskQueue } from '../support/fixtures';

let seq = 0;
const eventId = () => `evt-${Date.now()}-${(seq += 1)}`;
const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();

describe('HR events and lifecycles', () => {
  let worker: RunningWorker;
  let api: RunningApi;
  let tenant: Tenant;
  let admin: ApiClient;
  let secret: string;
  let t: string;
  let groups: { eng: string; sales: string; staff: string };
  let bundles: { eng: string; sales: string };

  type SendOptions = { secret?: string; timestamp?: number; tenantId?: string };
  /** Delivers an HR event, signed, to the webhook of the API at `baseUrl`. */
  const sendTo = (baseUrl: string) => (event: Record<string, unknown>, opts: SendOptions = {}) => {
    const body = JSON.stringify(event);
    const ts = opts.timestamp ?? Math.floor(Date.now() / 1000);
    return new ApiClient(baseUrl, null).request('POST', `/v1/tenants/${opts.tenantId ?? tenant.id}/hr/events`, body, {
      'content-type': 'application/json', 'x-portal-timestamp': String(ts), 'x-portal-signature': signHrPayload(opts.secret ?? secret, ts, body),
    });
  };
  const send = (event: Record<string, unknown>, opts: SendOptions = {}) => sendTo(api.baseUrl)(event, opts);
  const hire = (employeeId: string, profile: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    ({ eventId: eventId(), type: 'hire', employeeId, occurredAt: iso(), displayName: `Employee ${employeeId}`, profile, ...extra });
  const person = (employeeId: string) => personIdForEmployee(tenant.id, employeeId);
  const lifecycleOf = async (employeeId: string) => (await admin.get(`${t}/people/${person(employeeId)}/lifecycle`)).body;
  const liveEdges = async (employeeId: string) => (await admin.get(`${t}/access-edges?personId=${person(employeeId)}&limit=200`)).body.items as { target: { id: string }; source: string; sourceRef: string }[];
  const statusOf = async (employeeId: string) => (await admin.get(`${t}/people/${person(employeeId)}`)).body.status;
  const waitRun = (employeeId: string, kind: string, status: string) => eventually(async () =>
    ((await lifecycleOf(employeeId)).runs?.some((r: { kind: string; status: string }) => r.kind === kind && r.status === status) ? true : undefined), 20_000, `${employeeId} ${kind} ${status}`);
  const waitFor = (employeeId: string, status: string, ms = 20_000) => eventually(async () => ((await statusOf(employeeId)) === status ? true : undefined), ms, `${employeeId} ${status}`);
  type HrEventView = { eventId: string; status: string; outcome: string | null };
  const eventsOf = async (employeeId: string) => (await admin.get(`${t}/hr/events?employeeId=${employeeId}`)).body.items as HrEventView[];
  const waitEvent = (employeeId: string, id: string, status: string) => eventually(async () =>
    (await eventsOf(employeeId)).find((e) => e.eventId === id && e.status === status), 20_000, `${id} ${status}`);
  /** An ISO time relative to a fixed base, so events built at different moments keep the HR system's order. */
  const at = (base: number, offsetMs: number) => new Date(base + offsetMs).toISOString();
  /**
   * Hires an engineer and applies an update dated two seconds after the returned base, which changes no
   * mover attribute: an event dated between them then arrives late.
   */
  async function hiredWithNewerUpdate(employeeId: string): Promise<number> {
    await send(hire(employeeId, { department: 'engineering' }));
    await waitRun(employeeId, 'joiner', 'completed');
    const base = Date.now();
    const newer = { eventId: eventId(), type: 'update', employeeId, occurredAt: at(base, 2000), profile: { payGrade: 'P2' } };
    await send(newer);
    await waitEvent(employeeId, newer.eventId, 'applied');
    return base;
  }

  before(async () => {
    worker = await startWorker();
    api = await startApi(worker.taskQueue);
  });
  beforeEach(async () => {
    tenant = await seedTenant('customer', 'hr');
    t = `/v1/tenants/${tenant.id}`;
    admin = new ApiClient(api.baseUrl, await seedToken(tenant.id));
    secret = (await admin.post(`${t}/hr/secret`)).body.secret;
    expect((await admin.request('PUT', `${t}/hr/settings`, { disableThreshold: 5, leaverDeleteAfterSeconds: 2 })).status).to.equal(200);
    const db = testEnv().db;
    const g = async (name: string) => (await createCatalogObject(db, 'groups', { tenantId: tenant.id, name, description: null }))!.id;
    groups = { eng: await g('eng'), sales: await g('sales'), staff: await g('staff') };
    const bundle = async (name: string, groupId: string) => (await admin.post(`${t}/bundles`, {
      name, ownerPersonId: (await admin.post(`${t}/people`, { displayName: `${name} owner` })).body.id, items: [{ kind: 'group', id: groupId }],
      policy: { stages: [{ name: 'x', approvers: [{ type: 'bundle_owner' }], quorum: { type: 'all' }, timeout: { afterSeconds: 60, action: 'expire' } }] },
    })).body.id as string;
    bundles = { eng: await bundle('eng-birthright', groups.eng), sales: await bundle('sales-birthright', groups.sales) };
    const joiner = (await admin.get(`${t}/lifecycle/templates/joiner`)).body.definition;
    const put = await admin.request('PUT', `${t}/lifecycle/templates/joiner`, {
      ...joiner,
      birthright: [
        { bundleId: bundles.eng, when: [{ type: 'attribute', attribute: 'department', operator: 'equals', value: 'engineering' }] },
        { bundleId: bundles.sales, when: [{ type: 'attribute', attribute: 'department', operator: 'equals', value: 'sales' }] },
      ],
    });
    expect(put.body.version).to.equal(1);
  });
  after(async () => {
    await api.stop();
    await worker.stop();
  });

  describe('when a hire is dated in the future', () => {
    it('should do nothing before the date, then create the identity with profile and birthright access', async () => {
      await send(hire('M1', { department: 'engineering' }));
      await waitFor('M1', 'active');
      const res = await send(hire('E1', { department: 'engineering', manager: 'M1', jobTitle: 'Engineer' }, { effectiveAt: iso(6000) }));
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      await eventually(async () => ((await lifecycleOf('E1')).upcoming?.length === 1 ? true : undefined), 10_000, 'joiner scheduled');
      const scheduled = await lifecycleOf('E1');
      expect(scheduled.status).to.equal('pending');
      expect(scheduled.upcoming[0]).to.include({ kind: 'joiner' });
      expect(await liveEdges('E1')).to.deep.equal([]);

      await waitRun('E1', 'joiner', 'completed');
      const edges = await liveEdges('E1');
      expect(edges.map((e) => [e.target.id, e.source, e.sourceRef])).to.deep.equal([[groups.eng, 'iga_grant', `birthright:${bundles.eng}`]]);
      const profile = (await admin.get(`${t}/people/${person('E1')}`)).body.profile;
      expect(profile).to.include({ department: 'engineering', jobTitle: 'Engineer', employeeNumber: 'E1', manager: person('M1') });
      const done = await lifecycleOf('E1');
      expect(done.upcoming).to.deep.equal([]);
      expect(done.runs[0]).to.include({ kind: 'joiner', status: 'completed', trigger: 'effective_date', templateVersion: 1 });
      expect(done.runs[0].steps.map((s: { step: string }) => s.step)).to.deep.equal(['activate', 'grant_birthright', 'notify_manager']);
      // The birthright grant is a provisioning plan with its evidence.
      expect(done.runs[0].plans).to.have.length(1);
      const plan = (await admin.get(`${t}/plans/${done.runs[0].plans[0].id}`)).body;
      expect(plan.steps.map((s: { operation: string; targetObject: string }) => `${s.operation} ${s.targetObject}`)).to.deep.equal([`add_to_group group:${groups.eng}`]);
      expect(plan.evidence.map((e: { outcome: string }) => e.outcome)).to.deep.equal(['applied']);
      const outbox = await testEnv().db.selectFrom('outbox_messages').selectAll().where('tenant_id', '=', tenant.id).where('kind', '=', 'lifecycle.joiner').execute();
      expect(outbox.map((m) => m.recipient_person_id)).to.include(person('M1'));
    });
  });

  describe('when an update changes the department', () => {
    it('should run a mover that revokes the old birthright and grants the new', async () => {
      await send(hire('E2', { department: 'engineering' }));
      await waitFor('E2', 'active');
      const res = await send({ eventId: eventId(), type: 'update', employeeId: 'E2', occurredAt: iso(1), profile: { department: 'sales' } });
      expect(res.status).to.equal(202);
      await eventually(async () => ((await lifecycleOf('E2')).runs.some((r: { kind: string; status: string }) => r.kind === 'mover' && r.status === 'completed') ? true : undefined), 20_000, 'mover');
      expect((await liveEdges('E2')).map((e) => e.target.id)).to.deep.equal([groups.sales]);
      const revoked = (await admin.get(`${t}/access-edges?personId=${person('E2')}&state=revoked`)).body.items;
      expect(revoked.map((e: { target: { id: string } }) => e.target.id)).to.deep.equal([groups.eng]);
      const mover = (await lifecycleOf('E2')).runs.find((r: { kind: string }) => r.kind === 'mover');
      expect(mover.reason).to.equal('changed: department');
      expect(mover.steps[0]).to.deep.include({ step: 'reconcile_birthright', outcome: 'applied' });
      // The removal and the grant are one provisioning plan, with evidence for each.
      expect(mover.plans).to.have.length(1);
      const plan = (await admin.get(`${t}/plans/${mover.plans[0].id}`)).body;
      expect(plan.status).to.equal('completed');
      expect(plan.origin).to.deep.equal({ kind: 'lifecycle_run', id: mover.id });
      expect(plan.steps.map((s: { operation: string; targetObject: string }) => `${s.operation} ${s.targetObject}`))
        .to.deep.equal([`remove_from_group group:${groups.eng}`, `add_to_group group:${groups.sales}`]);
      expect(plan.evidence.map((e: { outcome: string }) => e.outcome)).to.deep.equal(['applied', 'applied']);
      const joiner = (await lifecycleOf('E2')).runs.find((r: { kind: string }) => r.kind === 'joiner');
      expect(joiner.plans).to.have.length(1);
    });
  });

  describe('when a transfer is dated in the future', () => {
    it('should keep the current access until the date, then run the mover, with the mover shown as upcoming', async () => {
      await send(hire('D1', { department: 'engineering' }));
      await waitRun('D1', 'joiner', 'completed');
      const transfer = { eventId: eventId(), type: 'update', employeeId: 'D1', occurredAt: iso(), effectiveAt: iso(8000), profile: { department: 'sales', payGrade: 'P3' } };
      expect((await send(transfer)).status).to.equal(202);
      const waiting = await eventually(async () => (await eventsOf('D1')).find((e) => e.eventId === transfer.eventId && e.outcome?.startsWith('waits')), 10_000, 'transfer waiting');
      expect(waiting.status).to.equal('dispatched');
      expect(waiting.outcome).to.match(/^waits for its effective date .+ \(mover scheduled: department\)$/);
      const before = await lifecycleOf('D1');
      expect(before.upcoming.map((u: { kind: string }) => u.kind)).to.deep.equal(['mover']);
      expect(Date.parse(before.upcoming[0].at)).to.equal(Date.parse(transfer.effectiveAt));
      // Before the date nothing has moved: the profile and the access are the engineer's.
      expect((await admin.get(`${t}/people/${person('D1')}`)).body.profile).to.include({ department: 'engineering' });
      expect((await liveEdges('D1')).map((e) => e.target.id)).to.deep.equal([groups.eng]);

      await waitEvent('D1', transfer.eventId, 'applied');
      await waitRun('D1', 'mover', 'completed');
      expect((await liveEdges('D1')).map((e) => e.target.id)).to.deep.equal([groups.sales]);
      const after = await lifecycleOf('D1');
      expect(after.upcoming).to.deep.equal([]);
      const mover = after.runs.find((r: { kind: string }) => r.kind === 'mover');
      expect(mover).to.include({ id: before.upcoming[0].runId, trigger: 'effective_date', reason: 'changed: department' });
      expect((await eventsOf('D1')).find((e) => e.eventId === transfer.eventId)?.outcome).to.equal('on its effective date: mover ran (department)');
      // The values are observed as of the effective date, from the event that carried them.
      const department = (await admin.get(`${t}/people/${person('D1')}/profile`)).body.provenance.department;
      expect(department).to.include({ value: 'sales', source: 'hr_connector', sourceRecordId: transfer.eventId });
      expect(Date.parse(department.observedAt)).to.equal(Date.parse(transfer.effectiveAt));
    });

    it('should let a cancellation call it off, and apply a dated change of no mover attribute without a mover', async () => {
      await send(hire('D2', { department: 'engineering' }));
      await waitRun('D2', 'joiner', 'completed');
      const base = Date.now();
      const transfer = { eventId: eventId(), type: 'update', employeeId: 'D2', occurredAt: at(base, 0), effectiveAt: at(base, 60_000), profile: { department: 'sales' } };
      const grade = { eventId: eventId(), type: 'update', employeeId: 'D2', occurredAt: at(base, 1), effectiveAt: at(base, 6000), profile: { payGrade: 'P9' } };
      expect((await send(transfer)).status).to.equal(202);
      expect((await send(grade)).status).to.equal(202);
      await eventually(async () => ((await lifecycleOf('D2')).upcoming?.length === 1 ? true : undefined), 10_000, 'mover scheduled');
      const called = { eventId: eventId(), type: 'cancellation', employeeId: 'D2', occurredAt: at(base, 2), cancelsEventId: transfer.eventId };
      expect((await send(called)).status).to.equal(202);
      await waitEvent('D2', transfer.eventId, 'superseded');
      expect((await eventsOf('D2')).find((e) => e.eventId === transfer.eventId)?.outcome).to.equal(`cancelled by HR event ${called.eventId} before its effective date`);
      const lifecycle = await lifecycleOf('D2');
      expect(lifecycle.upcoming).to.deep.equal([]);
      expect(lifecycle.runs.find((r: { kind: string }) => r.kind === 'mover')).to.include({ status: 'cancelled' });

      await waitEvent('D2', grade.eventId, 'applied');
      expect((await eventsOf('D2')).find((e) => e.eventId === grade.eventId)?.outcome).to.equal('on its effective date: profile updated (payGrade)');
      expect((await admin.get(`${t}/people/${person('D2')}`)).body.profile).to.include({ department: 'engineering', payGrade: 'P9' });
      expect((await lifecycleOf('D2')).runs.filter((r: { kind: string; status: string }) => r.kind === 'mover' && r.status !== 'cancelled')).to.deep.equal([]);
      expect((await liveEdges('D2')).map((e) => e.target.id)).to.deep.equal([groups.eng]);
    });

    it('should be ended by the person\'s departure, and a termination arriving late after its cancellation still runs the leaver', async () => {
      // The leaver is read while it waits to delete: keep that wait long enough to be seen.
      expect((await admin.request('PUT', `${t}/hr/settings`, { leaverDeleteAfterSeconds: 600 })).status).to.equal(200);
      await send(hire('D3', { department: 'engineering' }));
      await waitRun('D3', 'joiner', 'completed');
      const base = Date.now();
      const [first, second] = [0, 1].map((i) => ({ eventId: eventId(), type: 'update', employeeId: 'D3', occurredAt: at(base, i), effectiveAt: at(base, 600_000), profile: { department: `dept-${i}` } }));
      expect((await send(first!)).status).to.equal(202);
      expect((await send(second!)).status).to.equal(202);
      await eventually(async () => ((await lifecycleOf('D3')).upcoming?.length === 2 ? true : undefined), 10_000, 'two movers scheduled');
      // HR calls the first transfer off, and the termination dated before that reaches Portal after it (held
      // for an operator, say): a cancellation of an update does not make the older termination stale.
      const called = { eventId: eventId(), type: 'cancellation', employeeId: 'D3', occurredAt: at(base, 3), cancelsEventId: first!.eventId };
      expect((await send(called)).status).to.equal(202);
      await waitEvent('D3', first!.eventId, 'superseded');
      const termination = { eventId: eventId(), type: 'termination', employeeId: 'D3', occurredAt: at(base, 2) };
      expect((await send(termination)).status).to.equal(202);
      await waitEvent('D3', termination.eventId, 'applied');
      await waitRun('D3', 'leaver', 'running');
      // The leaver ends the transfer still waiting: its mover is cancelled and nothing is upcoming but the deletion.
      await waitEvent('D3', second!.eventId, 'superseded');
      expect((await eventsOf('D3')).find((e) => e.eventId === second!.eventId)?.outcome).to.match(/^the person left \(leaver run .+\) before its effective date$/);
      const lifecycle = await lifecycleOf('D3');
      expect(lifecycle.runs.filter((r: { kind: string }) => r.kind === 'mover').map((r: { status: string }) => r.status)).to.deep.equal(['cancelled', 'cancelled']);
      expect(lifecycle.upcoming.map((u: { kind: string }) => u.kind)).to.deep.equal(['leaver']);
    });

    /**
     * Hires an engineer, then sends the cancellation of an event (dated just before it) ahead of the event
     * itself, and checks the event is superseded by it.
     */
    async function cancelledBeforeArrival(employeeId: string, event: (base: number) => Record<string, unknown> & { eventId: string }): Promise<void> {
      await send(hire(employeeId, { department: 'engineering' }));
      await waitRun(employeeId, 'joiner', 'completed');
      const base = Date.now();
      const cancelled = event(base);
      const called = { eventId: eventId(), type: 'cancellation', employeeId, occurredAt: at(base, 1), cancelsEventId: cancelled.eventId };
      expect((await send(called)).status).to.equal(202);
      await waitEvent(employeeId, called.eventId, 'applied');
      expect((await send(cancelled)).status).to.equal(202);
      await waitEvent(employeeId, cancelled.eventId, 'superseded');
      expect((await eventsOf(employeeId)).find((e) => e.eventId === cancelled.eventId)?.outcome).to.equal(`cancelled by HR event ${called.eventId}, which arrived first`);
    }

    it('should supersede a dated update whose cancellation arrived first', async () => {
      await cancelledBeforeArrival('D4', (base) => ({
        eventId: eventId(), type: 'update', employeeId: 'D4', occurredAt: at(base, 0), effectiveAt: at(base, 600_000), profile: { department: 'sales' },
      }));
      expect((await lifecycleOf('D4')).upcoming).to.deep.equal([]);
    });

    it('should supersede a termination whose cancellation reached Portal first (a termination held for an operator)', async () => {
      await cancelledBeforeArrival('D6', (base) => ({ eventId: eventId(), type: 'termination', employeeId: 'D6', occurredAt: at(base, 0) }));
      expect(await statusOf('D6')).to.equal('active');
      expect((await lifecycleOf('D6')).runs.filter((r: { kind: string }) => r.kind === 'leaver')).to.deep.equal([]);
    });

    it('should restore the updates a leaver ended when its termination is cancelled during the retention wait', async () => {
      expect((await admin.request('PUT', `${t}/hr/settings`, { leaverDeleteAfterSeconds: 600 })).status).to.equal(200);
      await send(hire('D7', { department: 'engineering' }));
      await waitRun('D7', 'joiner', 'completed');
      const base = Date.now();
      // Dated far enough ahead that the restored transfer is seen waiting (six HR round trips on) before its date.
      const transfer = { eventId: eventId(), type: 'update', employeeId: 'D7', occurredAt: at(base, 0), effectiveAt: at(base, 20_000), profile: { department: 'sales' } };
      expect((await send(transfer)).status).to.equal(202);
      const grade = { eventId: eventId(), type: 'update', employeeId: 'D7', occurredAt: at(base, 0), effectiveAt: at(base, 20_000), profile: { payGrade: 'P7' } };
      expect((await send(grade)).status).to.equal(202);
      await eventually(async () => ((await lifecycleOf('D7')).upcoming?.length === 1 ? true : undefined), 10_000, 'transfer waiting');
      await eventually(async () => (await eventsOf('D7')).find((e) => e.eventId === grade.eventId && e.outcome?.startsWith('waits')), 10_000, 'grade waiting');
      const termination = { eventId: eventId(), type: 'termination', employeeId: 'D7', occurredAt: at(base, 1) };
      expect((await send(termination)).status).to.equal(202);
      await waitEvent('D7', transfer.eventId, 'superseded');
      await waitEvent('D7', termination.eventId, 'applied');
      await waitEvent('D7', grade.eventId, 'superseded');
      // HR calls one of them off meanwhile: that one is not restored.
      const gradeOff = { eventId: eventId(), type: 'cancellation', employeeId: 'D7', occurredAt: at(base, 2), cancelsEventId: grade.eventId };
      expect((await send(gradeOff)).status).to.equal(202);
      await waitEvent('D7', gradeOff.eventId, 'applied');
      const called = { eventId: eventId(), type: 'cancellation', employeeId: 'D7', occurredAt: at(base, 3), cancelsEventId: termination.eventId };
      expect((await send(called)).status).to.equal(202);
      await waitEvent('D7', called.eventId, 'applied');
      const restored = (await eventsOf('D7')).find((e) => e.eventId === transfer.eventId);
      expect(restored?.status).to.equal('dispatched');
      expect(restored?.outcome).to.match(/\(mover scheduled: department\); restored: the termination was cancelled by HR event /);
      await eventually(async () => (await eventsOf('D7')).find((e) => e.eventId === transfer.eventId && e.status === 'applied'), 40_000, 'transfer applied on its date');
      await eventually(async () => ((await lifecycleOf('D7')).runs.some((r: { kind: string; status: string; trigger: string }) => r.kind === 'mover' && r.status === 'completed' && r.trigger === 'effective_date') ? true : undefined), 20_000, 'mover');
      expect(await statusOf('D7')).to.equal('active');
      expect((await liveEdges('D7')).map((e) => e.target.id)).to.deep.equal([groups.sales]);
      expect((await eventsOf('D7')).find((e) => e.eventId === grade.eventId)?.status).to.equal('superseded');
      expect((await admin.get(`${t}/people/${person('D7')}`)).body.profile.payGrade).to.equal(undefined);
    });

    it('should run a leaver due with a dated transfer first, and end the transfer', async () => {
      await send(hire('D8', { department: 'engineering' }));
      await waitRun('D8', 'joiner', 'completed');
      const base = Date.now();
      const leaving = at(base, 6000);
      const termination = { eventId: eventId(), type: 'termination', employeeId: 'D8', occurredAt: at(base, 0), effectiveAt: leaving };
      const transfer = { eventId: eventId(), type: 'update', employeeId: 'D8', occurredAt: at(base, 1), effectiveAt: leaving, profile: { department: 'sales' } };
      expect((await send(termination)).status).to.equal(202);
      expect((await send(transfer)).status).to.equal(202);
      await waitEvent('D8', transfer.eventId, 'superseded');
      await waitEvent('D8', termination.eventId, 'applied');
      const runs = (await lifecycleOf('D8')).runs;
      expect(runs.filter((r: { kind: string }) => r.kind === 'mover').map((r: { status: string }) => r.status)).to.deep.equal(['cancelled']);
      // The transfer is ended as the leaver starts; its access goes with the leaver's later step (CI read it before).
      await eventually(async () => ((await liveEdges('D8')).length === 0 ? true : undefined), 20_000, 'D8 access removed');
    });

    it('should give a scheduled joiner the profile a correction sends for the start date', async () => {
      const base = Date.now();
      const start = at(base, 6000);
      expect((await send({ ...hire('D5', { department: 'engineering' }), occurredAt: at(base, 0), effectiveAt: start })).status).to.equal(202);
      const correction = { eventId: eventId(), type: 'update', employeeId: 'D5', occurredAt: at(base, 1), effectiveAt: start, profile: { department: 'sales' } };
      expect((await send(correction)).status).to.equal(202);
      await waitRun('D5', 'joiner', 'completed');
      expect((await liveEdges('D5')).map((e) => e.target.id)).to.deep.equal([groups.sales]);
      const runs = (await lifecycleOf('D5')).runs;
      expect(runs.filter((r: { kind: string }) => r.kind === 'mover').map((r: { status: string; reason: string }) => [r.status, r.reason]))
        .to.deep.equal([['cancelled', 'the person is not started on its effective date']]);
    });
  });

  describe('when a leaver is processed', () => {
    it('should disable the identity, remove every access edge, and delete after the wait', async () => {
      await send(hire('E3', { department: 'engineering' }));
      await waitFor('E3', 'active');
      await waitRun('E3', 'joiner', 'completed');
      await admin.post(`${t}/groups/${groups.staff}/members`, { personId: person('E3') });
      expect((await liveEdges('E3')).length).to.equal(2);
      await send({ eventId: eventId(), type: 'termination', employeeId: 'E3', occurredAt: iso(1), profile: { employmentStatus: 'terminated' } });
      await waitFor('E3', 'disabled');
      // The deletion is 2 s after: take the lifecycle as it waits from the same read that saw it waiting.
      const waiting = await eventually(async () => {
        const lifecycle = await lifecycleOf('E3');
        return lifecycle.upcoming?.length === 1 ? lifecycle : undefined;
      }, 20_000, 'leaver waiting');
      expect(await liveEdges('E3')).to.deep.equal([]);
      expect((await admin.get(`${t}/groups/${groups.staff}/members`)).body.items).to.deep.equal([]);
      expect(waiting.upcoming.map((u: { kind: string; steps: string[] }) => [u.kind, u.steps])).to.deep.equal([['leaver', ['delete']]]);
      await waitFor('E3', 'deleted');
      // The delete step marks the person deleted; the run is recorded completed just after it, so wait for that too.
      const leaver = await eventually(async () => {
        const run = (await lifecycleOf('E3')).runs.find((r: { kind: string }) => r.kind === 'leaver');
        return run?.status === 'completed' ? run : undefined;
      }, 20_000, 'leaver completed');
      expect(leaver.steps.map((s: { step: string }) => s.step)).to.deep.equal(['disable', 'revoke_all_access', 'notify_manager', 'wait', 'delete']);
    });
  });

  describe('when a rehire arrives before the leave date, and when a leave date is corrected', () => {
    it('should cancel the pending leaver, and reschedule a corrected one', async () => {
      await send(hire('E4', { department: 'engineering' }));
      await waitFor('E4', 'active');
      await send({ eventId: eventId(), type: 'termination', employeeId: 'E4', occurredAt: iso(1), effectiveAt: iso(60_000), profile: {} });
      await eventually(async () => ((await lifecycleOf('E4')).upcoming?.length === 1 ? true : undefined), 10_000, 'leaver scheduled');
      await send({ eventId: eventId(), type: 'rehire', employeeId: 'E4', occurredAt: iso(2), profile: {} });
      await eventually(async () => ((await lifecycleOf('E4')).upcoming?.length === 0 ? true : undefined), 10_000, 'leaver cancelled');
      const cancelled = (await lifecycleOf('E4')).runs.find((r: { kind: string }) => r.kind === 'leaver');
      expect(cancelled.status).to.equal('cancelled');
      expect(cancelled.reason).to.match(/^rehired before the leave date/);
      expect(await statusOf('E4')).to.equal('active');

      await send({ eventId: eventId(), type: 'termination', employeeId: 'E4', occurredAt: iso(3), effectiveAt: iso(60_000), profile: {} });
      await send({ eventId: eventId(), type: 'termination', employeeId: 'E4', occurredAt: iso(4), effectiveAt: iso(2500), profile: {} });
      await waitFor('E4', 'disabled');
      const leavers = (await lifecycleOf('E4')).runs.filter((r: { kind: string }) => r.kind === 'leaver').map((r: { status: string; reason: string | null }) => [r.status, r.reason?.split(' by ')[0] ?? null]);
      expect(leavers).to.deep.include(['cancelled', 'rescheduled']);
    });
  });

  describe('when a future hire is cancelled', () => {
    it('should cancel the pending joiner', async () => {
      const h = hire('E5', { department: 'sales' }, { effectiveAt: iso(60_000) });
      await send(h);
      await eventually(async () => ((await lifecycleOf('E5')).upcoming?.length === 1 ? true : undefined), 10_000, 'joiner scheduled');
      await send({ eventId: eventId(), type: 'cancellation', employeeId: 'E5', occurredAt: iso(1), cancelsEventId: h.eventId });
      await eventually(async () => ((await lifecycleOf('E5')).upcoming?.length === 0 ? true : undefined), 10_000, 'joiner cancelled');
      expect((await lifecycleOf('E5')).runs[0]).to.include({ kind: 'joiner', status: 'cancelled' });
      expect(await statusOf('E5')).to.equal('pending');
    });
  });

  describe('when events repeat or arrive out of order', () => {
    it('should ignore a duplicate and never let an older update overwrite a newer one', async () => {
      const h = hire('E6', { department: 'engineering', jobTitle: 'Engineer' });
      expect((await send(h)).status).to.equal(202);
      const dup = await send(h);
      expect(dup.status).to.equal(200);
      await waitFor('E6', 'active');
      const newer = { eventId: eventId(), type: 'update', employeeId: 'E6', occurredAt: iso(2000), profile: { jobTitle: 'Staff Engineer' } };
      const older = { eventId: eventId(), type: 'update', employeeId: 'E6', occurredAt: iso(1000), profile: { jobTitle: 'Senior Engineer', location: 'LDN' } };
      await send(newer);
      await eventually(async () => ((await admin.get(`${t}/people/${person('E6')}`)).body.profile.jobTitle === 'Staff Engineer' ? true : undefined), 20_000, 'newer applied');
      await send(older);
      await eventually(async () => {
        const events = (await admin.get(`${t}/hr/events?employeeId=E6`)).body.items as { eventId: string; status: string }[];
        return events.every((e) => ['applied', 'superseded'].includes(e.status)) && events.length === 3 ? events : undefined;
      }, 20_000, 'events settled');
      const events = (await admin.get(`${t}/hr/events?employeeId=E6`)).body.items as { eventId: string; status: string }[];
      // The late update counts where nothing newer exists (location), and never overwrites the newer jobTitle.
      expect(events.find((e) => e.eventId === older.eventId)?.status).to.equal('applied');
      expect((await admin.get(`${t}/people/${person('E6')}`)).body.profile).to.include({ jobTitle: 'Staff Engineer', location: 'LDN' });
      const lateHire = await send({ ...h, eventId: eventId(), occurredAt: iso(-60_000) });
      expect(lateHire.status).to.equal(202);
      await eventually(async () => ((await admin.get(`${t}/hr/events?employeeId=E6&status=superseded`)).body.items.length === 1 ? true : undefined), 20_000, 'late hire superseded');
      expect((await lifecycleOf('E6')).runs.filter((r: { kind: string }) => r.kind === 'joiner')).to.have.length(1);
    });
  });

  describe('when a termination arrives after a later update', () => {
    it('should still run the leaver, in the HR system\'s order', async () => {
      const base = await hiredWithNewerUpdate('L1');
      const termination = { eventId: eventId(), type: 'termination', employeeId: 'L1', occurredAt: at(base, 1000), profile: {} };
      await send(termination);
      await waitFor('L1', 'disabled');
      const applied = await waitEvent('L1', termination.eventId, 'applied');
      expect(applied.outcome).to.match(/^late \(older than .*\): leaver ran$/);
      expect(await liveEdges('L1')).to.deep.equal([]);
    });
  });

  describe('when an update arrives before the hire', () => {
    it('should fail it until the hire creates the person, then apply it', async () => {
      const base = Date.now();
      const update = { eventId: eventId(), type: 'update', employeeId: 'L2', occurredAt: at(base, 1000), profile: { payGrade: 'G2' } };
      await send(update);
      expect((await waitEvent('L2', update.eventId, 'failed')).outcome).to.match(/^failed: no hire has been seen/);
      await send(hire('L2', { department: 'sales' }, { occurredAt: at(base, 0) }));
      await waitFor('L2', 'active');
      const applied = await waitEvent('L2', update.eventId, 'applied');
      expect(applied.outcome).to.equal('applied once the hire arrived: profile updated (payGrade)');
      expect((await admin.get(`${t}/people/${person('L2')}`)).body.profile).to.include({ department: 'sales', payGrade: 'G2' });
      expect((await eventsOf('L2')).map((e) => e.status)).to.deep.equal(['applied', 'applied']);
    });
  });

  describe('when a department change arrives after a later update', () => {
    it('should run the mover for it', async () => {
      const base = await hiredWithNewerUpdate('L3');
      const transfer = { eventId: eventId(), type: 'update', employeeId: 'L3', occurredAt: at(base, 1000), profile: { department: 'sales' } };
      await send(transfer);
      await waitRun('L3', 'mover', 'completed');
      expect((await waitEvent('L3', transfer.eventId, 'applied')).outcome).to.match(/^late \(older than .*\): mover ran \(department\)$/);
      expect((await liveEdges('L3')).map((e) => e.target.id)).to.deep.equal([groups.sales]);
    });
  });

  describe('when a hire arrives during a leaver\'s retention wait', () => {
    it('should cancel the pending deletion and run the joiner', async () => {
      expect((await admin.request('PUT', `${t}/hr/settings`, { leaverDeleteAfterSeconds: 600 })).status).to.equal(200);
      await send(hire('L4', { department: 'engineering' }));
      await waitRun('L4', 'joiner', 'completed');
      await send({ eventId: eventId(), type: 'termination', employeeId: 'L4', occurredAt: iso(1), profile: {} });
      await waitFor('L4', 'disabled');
      await eventually(async () => ((await lifecycleOf('L4')).upcoming?.length === 1 ? true : undefined), 20_000, 'leaver waiting to delete');
      await send(hire('L4', { department: 'engineering' }, { occurredAt: iso(2) }));
      await waitFor('L4', 'active');
      await eventually(async () => ((await lifecycleOf('L4')).upcoming?.length === 0 ? true : undefined), 20_000, 'deletion cancelled');
      const runs = (await lifecycleOf('L4')).runs as { kind: string; status: string; reason: string | null }[];
      const leaver = runs.find((r) => r.kind === 'leaver');
      expect(leaver?.status).to.equal('cancelled');
      expect(leaver?.reason).to.match(/^hired again by HR event .* while the leaver was pending$/);
      // The joiner marks the person active with its first step and completes after its last.
      await eventually(async () => ((await lifecycleOf('L4')).runs.filter((r: { kind: string; status: string }) => r.kind === 'joiner' && r.status === 'completed').length === 2
        ? true : undefined), 20_000, 'second joiner completed');
    });
  });

  describe('when a hire\'s start date is corrected and the original hire is then cancelled', () => {
    it('should cancel the rescheduled joiner', async () => {
      const original = hire('L5', { department: 'sales' }, { effectiveAt: iso(60_000) });
      await send(original);
      await eventually(async () => ((await lifecycleOf('L5')).upcoming?.length === 1 ? true : undefined), 10_000, 'joiner scheduled');
      const corrected = hire('L5', { department: 'sales' }, { occurredAt: iso(1), effectiveAt: iso(90_000) });
      await send(corrected);
      // The old run is cancelled, then the corrected one scheduled, in two writes: wait for the event's end.
      await waitEvent('L5', corrected.eventId, 'applied');
      const cancellation = { eventId: eventId(), type: 'cancellation', employeeId: 'L5', occurredAt: iso(2), cancelsEventId: original.eventId };
      await send(cancellation);
      await waitEvent('L5', cancellation.eventId, 'applied');
      await eventually(async () => ((await lifecycleOf('L5')).upcoming?.length === 0 ? true : undefined), 10_000, 'corrected joiner cancelled');
      const runs = (await lifecycleOf('L5')).runs as { kind: string; status: string; reason: string | null }[];
      expect(runs.map((r) => [r.kind, r.status, r.reason?.split(' by ')[0] ?? null])).to.deep.equal([['joiner', 'cancelled', 'cancelled'], ['joiner', 'cancelled', 'rescheduled']]);
      expect(await statusOf('L5')).to.equal('pending');
    });
  });

  describe('when a leaver is kicked off by hand before a future start date', () => {
    it('should cancel the scheduled joiner', async () => {
      await send(hire('L6', { department: 'sales' }, { effectiveAt: iso(60_000) }));
      await eventually(async () => ((await lifecycleOf('L6')).upcoming?.length === 1 ? true : undefined), 10_000, 'joiner scheduled');
      const res = await admin.post(`${t}/people/${person('L6')}/lifecycle/kickoff`, { kind: 'leaver', reason: 'offer withdrawn' });
      expect(res.status).to.equal(202);
      await waitFor('L6', 'disabled');
      await waitRun('L6', 'joiner', 'cancelled');
      expect((await lifecycleOf('L6')).upcoming.map((u: { kind: string }) => u.kind)).to.not.include('joiner');
      const joiner = ((await lifecycleOf('L6')).runs as { kind: string; status: string; reason: string | null }[]).find((r) => r.kind === 'joiner');
      expect(joiner).to.include({ status: 'cancelled', reason: `cancelled by leaver run ${res.body.runId} (manual) before the start date` });
    });
  });

  describe('when the HR system delivers many events at once, some of them twice', () => {
    it('should store each event once and answer every delivery for what it was', async () => {
      const events = Array.from({ length: 12 }, (_, i) => hire(`C${i}`, { department: 'sales' }));
      // Sent together, so the webhook's deliveries share inserts; three events are delivered twice at once.
      const deliveries = [...events, events[0]!, events[5]!, events[11]!];
      const answers = await Promise.all(deliveries.map((e) => send(e)));
      expect(answers.every((a) => a.status === 202 || a.status === 200)).to.equal(true);
      for (const e of events) {
        const mine = answers.filter((_, i) => deliveries[i] === e);
        // Exactly one delivery stored it; a second one is told it was a duplicate, of the same stored event.
        expect(mine.filter((a) => a.status === 202), String(e.eventId)).to.have.length(1);
        expect(new Set(mine.map((a) => a.body.id)).size).to.equal(1);
      }
      const stored = await testEnv().db.selectFrom('hr_events').select('event_id').where('tenant_id', '=', tenant.id).execute();
      expect(stored.map((r) => r.event_id).sort()).to.deep.equal(events.map((e) => String(e.eventId)).sort());
      await waitFor('C11', 'active');
    });
  });

  describe('when a webhook is not properly signed or the event is invalid', () => {
    it('should refuse it and store nothing', async () => {
      const count = async () => (await admin.get(`${t}/hr/events?limit=200`)).body.items.length;
      const before = await count();
      const e = hire('E7', {});
      const badSig = await send(e, { secret: 'hrs_wrong' });
      expect([badSig.status, badSig.body.code]).to.deep.equal([401, 'unauthenticated']);
      const stale = await send(e, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
      expect([stale.status, stale.body.code]).to.deep.equal([401, 'unauthenticated']);
      // Another tenant with a secret of its own: this tenant's signature does not open its webhook.
      const other = await seedTenant('customer', 'other-hr');
      const otherAdmin = admin.as(await seedToken(other.id));
      expect((await otherAdmin.post(`/v1/tenants/${other.id}/hr/secret`)).status).to.equal(201);
      const crossTenant = await send(e, { tenantId: other.id });
      expect([crossTenant.status, crossTenant.body.code]).to.deep.equal([401, 'unauthenticated']);
      expect((await otherAdmin.get(`/v1/tenants/${other.id}/hr/events`)).body.items).to.deep.equal([]);
      const unsigned = await admin.as(null).post(`${t}/hr/events`, e);
      expect(unsigned.status).to.equal(401);
      // An API token, even one that may manage HR, is no signature.
      const bearerOnly = await admin.post(`${t}/hr/events`, e);
      expect([bearerOnly.status, bearerOnly.body.code]).to.deep.equal([401, 'unauthenticated']);
      const invalid = await send({ ...e, type: 'promotion', occurredAt: 'yesterday', surprise: 1 });
      expect(invalid.status).to.equal(400);
      expect(invalid.body.errors.map((x: { path: string }) => x.path)).to.include.members(['body.type', 'body.occurredAt', 'body']);
      const badProfile = await send(hire('E7b', { fte: 'lots', shoeSize: 44, department: 'engineering' }));
      expect(badProfile.status).to.equal(400);
      expect(badProfile.body.errors.map((x: { path: string }) => x.path)).to.have.members(['body.profile.fte', 'body.profile.shoeSize']);
      const badImport = await admin.request('POST', `${t}/hr/imports`, [JSON.stringify(hire('E8', {})), JSON.stringify({ ...hire('E9', {}), employeeId: '' })].join('\n'), { 'content-type': 'application/x-ndjson' });
      expect(badImport.status).to.equal(400);
      expect(badImport.body.errors[0].path).to.equal('record[2].employeeId');
      // Dated ahead of Portal's clock: it would make every later event of the person look late.
      const ahead = await send({ ...hire('E10', {}), occurredAt: iso(3_600_000) });
      expect([ahead.status, ahead.body.code]).to.deep.equal([400, 'validation_failed']);
      expect(ahead.body.errors.map((x: { path: string }) => x.path)).to.deep.equal(['body.occurredAt']);
      expect(await count()).to.equal(before);
    });
  });

  describe('when an event carries a NUL character or names the employee as their own manager', () => {
    it('should refuse it at intake naming the field, and store nothing', async () => {
      const count = async () => (await admin.get(`${t}/hr/events?limit=200`)).body.items.length;
      const before = await count();
      const nulName = await send(hire('N1', { department: 'engineering' }, { displayName: 'Ada\u0000' }));
      expect([nulName.status, nulName.body.code]).to.deep.equal([400, 'validation_failed']);
      expect(nulName.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.displayName']);
      const ndjson = await admin.request('POST', `${t}/hr/imports`, [JSON.stringify(hire('N2', {})), JSON.stringify(hire('N3', { department: 'eng\u0000' }))].join('\n'), { 'content-type': 'application/x-ndjson' });
      expect([ndjson.status, ndjson.body.code]).to.deep.equal([400, 'validation_failed']);
      expect(ndjson.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['record[2].profile.department']);
      const csv = ['eventId,type,employeeId,occurredAt,profile.department', `${eventId()},hire,N4,${iso()},eng\u0000`].join('\n');
      const csvImport = await admin.request('POST', `${t}/hr/imports`, csv, { 'content-type': 'text/csv' });
      expect([csvImport.status, csvImport.body.code]).to.deep.equal([400, 'validation_failed']);

      const self = await send(hire('S1', { department: 'engineering', manager: 'S1' }));
      expect([self.status, self.body.code]).to.deep.equal([400, 'validation_failed']);
      expect(self.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.profile.manager']);
      const selfImport = await admin.request('POST', `${t}/hr/imports`, [JSON.stringify(hire('S2', { manager: 'S3' })), JSON.stringify({ eventId: eventId(), type: 'update', employeeId: 'S2', occurredAt: iso(1), profile: { manager: 'S2' } })].join('\n'), { 'content-type': 'application/x-ndjson' });
      expect([selfImport.status, selfImport.body.code]).to.deep.equal([400, 'validation_failed']);
      expect(selfImport.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['record[2].profile.manager']);
      expect(await count()).to.equal(before);
    });
  });

  describe('when an HR source disagrees with the profile or names an unknown manager', () => {
    it('should open resolution issues instead of overwriting', async () => {
      await send(hire('E12', { department: 'engineering', manager: 'NOBODY' }));
      await waitRun('E12', 'joiner', 'completed');
      const issues = (await admin.get(`${t}/resolution-issues?personId=${person('E12')}`)).body.items as { attribute: string; status: string }[];
      expect(issues.map((i) => [i.attribute, i.status])).to.deep.include(['manager', 'open']);
      expect((await admin.get(`${t}/people/${person('E12')}`)).body.profile.manager ?? null).to.equal(null);
      const provenance = (await admin.get(`${t}/people/${person('E12')}/profile`)).body.provenance.department;
      expect(provenance).to.include({ source: 'hr_connector' });
    });

    it('should record on the person a value refused when it is applied, once however often it is applied', async () => {
      const attribute = await admin.post(`${t}/profile-attributes`, { key: `site${Date.now()}`, label: 'Site', type: 'enum', enumValues: ['north', 'south'] });
      expect(attribute.status, JSON.stringify(attribute.body)).to.equal(201);
      const key = attribute.body.key as string;
      await send(hire('V1', { department: 'engineering' }));
      await waitRun('V1', 'joiner', 'completed');
      // Valid when HR sends it; by its effective date the tenant no longer allows the value.
      const move = { eventId: eventId(), type: 'update', employeeId: 'V1', occurredAt: iso(1), effectiveAt: iso(4000), profile: { [key]: 'north', jobTitle: 'Lead' } };
      expect((await send(move)).status).to.equal(202);
      await eventually(async () => (await eventsOf('V1')).find((e) => e.eventId === move.eventId && e.outcome?.startsWith('waits')), 10_000, 'update waiting');
      expect((await admin.request('PATCH', `${t}/profile-attributes/${attribute.body.id}`, { enumValues: ['south'] })).status).to.equal(200);
      await waitEvent('V1', move.eventId, 'applied');
      const profile = (await admin.get(`${t}/people/${person('V1')}`)).body.profile;
      expect(profile).to.include({ jobTitle: 'Lead' });
      expect(profile).not.to.have.property(key);
      const refusals = async () => ((await admin.get(`${t}/audit-events?targetKind=person&targetId=${person('V1')}&action=person.profile_values_rejected`)).body.items as
        { details: { eventId: string; rejected: { attribute: string }[] } }[]).map((r) => [r.details.eventId, r.details.rejected.map((x) => x.attribute)]);
      expect(await refusals()).to.deep.equal([[move.eventId, [key]]]);
      // Applied again (a local activity retried after its commit): refused again, recorded once.
      const { applyHrUpdates } = lifecycleActivities(testEnv().db);
      await applyHrUpdates({
        tenantId: tenant.id, personId: person('V1'), personActive: true,
        events: [{ eventRowId: randomUUID(), label: '', payload: { ...move, type: 'update' as const, effectiveAt: null, displayName: null, cancelsEventId: null } }],
      });
      expect(await refusals()).to.deep.equal([[move.eventId, [key]]]);
    });
  });

  describe('when an import carries several events of one person', () => {
    it('should hand them to the lifecycle in one signal and apply them in the HR system\'s order', async () => {
      const rows = [
        `${eventId()},update,B1,${iso(2000)},,,,engineering,G3`,
        `${eventId()},hire,B1,${iso()},,Person B1,,engineering,G1`,
        `${eventId()},update,B1,${iso(1000)},,,,engineering,G2`,
      ];
      const csv = ['eventId,type,employeeId,occurredAt,effectiveAt,displayName,cancelsEventId,profile.department,profile.payGrade', ...rows].join('\n');
      const imported = await admin.request('POST', `${t}/hr/imports`, csv, { 'content-type': 'text/csv' });
      expect(imported.status, JSON.stringify(imported.body)).to.equal(202);
      await eventually(async () => {
        const events = (await admin.get(`${t}/hr/events?employeeId=B1`)).body.items as { status: string }[];
        return events.length === 3 && events.every((e) => e.status === 'applied') ? true : undefined;
      }, 20_000, 'all three applied');
      expect((await admin.get(`${t}/people/${person('B1')}`)).body.profile).to.include({ department: 'engineering', payGrade: 'G3' });
      const history = await testEnv().client.workflow.getHandle(lifecycleWorkflowId(tenant.id, person('B1'))).fetchHistory();
      const signals = (history.events ?? []).flatMap((e) => (e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes] : []));
      expect(signals.map((x) => x.signalName)).to.deep.equal(['portal.lifecycle.hrEvents']);
    });
  });

  describe('when a CSV import leaves cells blank or clears them with the marker', () => {
    it('should keep what a blank cell does not give, clear what #clear names, and refuse the marker elsewhere', async () => {
      const header = 'eventId,type,employeeId,occurredAt,effectiveAt,displayName,cancelsEventId,profile.department,profile.payGrade,profile.location';
      const importCsv = (row: string) => admin.request('POST', `${t}/hr/imports`, [header, row].join('\n'), { 'content-type': 'text/csv' });
      expect((await importCsv(`${eventId()},hire,X1,${iso()},,Person X1,,engineering,G1,LDN`)).status).to.equal(202);
      await waitRun('X1', 'joiner', 'completed');
      const update = eventId();
      expect((await importCsv(`${update},update,X1,${iso(1000)},,,,,G2,#clear`)).status).to.equal(202);
      await eventually(async () => ((await admin.get(`${t}/hr/events?employeeId=X1&status=applied`)).body.items.length === 2 ? true : undefined), 20_000, 'update applied');
      const profile = (await admin.get(`${t}/people/${person('X1')}`)).body.profile;
      expect(profile).to.include({ department: 'engineering', payGrade: 'G2' });
      expect(profile.location ?? null).to.equal(null);
      await waitRun('X1', 'mover', 'completed');
      // The blank department did not clear it, so the mover keeps the engineering birthright.
      expect((await liveEdges('X1')).map((e) => e.target.id)).to.deep.equal([groups.eng]);

      const misplaced = await importCsv(`${eventId()},update,X1,${iso(2000)},,#clear,,,G3,`);
      expect([misplaced.status, misplaced.body.code]).to.deep.equal([400, 'validation_failed']);
      expect(misplaced.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['record[1].displayName']);
    });
  });

  describe('when a batch would disable more identities than the threshold', () => {
    it('should hold the terminations until an operator approves them', async () => {
      const employees = ['T1', 'T2', 'T3', 'T4', 'T5', 'T6'];
      const hires = employees.map((id) => `${eventId()},hire,${id},${iso()},,Person ${id},,engineering`);
      const csv = ['eventId,type,employeeId,occurredAt,effectiveAt,displayName,cancelsEventId,profile.department', ...hires].join('\n');
      const imported = await admin.request('POST', `${t}/hr/imports`, csv, { 'content-type': 'text/csv' });
      expect(imported.status, JSON.stringify(imported.body)).to.equal(202);
      expect(imported.body).to.include({ accepted: 6, held: 0, holdId: null });
      for (const id of employees) await waitFor(id, 'active');

      const terminations = employees.map((id) => JSON.stringify({ eventId: eventId(), type: 'termination', employeeId: id, occurredAt: iso(1000) }));
      const held = await admin.request('POST', `${t}/hr/imports`, terminations.join('\n'), { 'content-type': 'application/x-ndjson' });
      expect(held.body).to.include({ accepted: 6, held: 6 });
      await new Promise((r) => setTimeout(r, 1000));
      for (const id of employees) expect(await statusOf(id)).to.equal('active');
      const holds = (await admin.get(`${t}/hr/holds?status=pending`)).body.items;
      expect(holds).to.have.length(1);
      expect(holds[0].events).to.equal(6);

      const approved = await admin.post(`${t}/hr/holds/${held.body.holdId}/approve`);
      expect(approved.body).to.include({ status: 'approved', events: 6 });
      expect((await admin.post(`${t}/hr/holds/${held.body.holdId}/approve`)).body.code).to.equal('hold_closed');
      for (const id of employees) await waitFor(id, 'disabled');
    });
  });

  describe('when a termination is put under a hold while an operator approves it', () => {
    it('should release it with the hold, never leave it held under an approved hold', async () => {
      const terminations = ['R1', 'R2', 'R3', 'R4', 'R5', 'R6'].map((id) => JSON.stringify({ eventId: eventId(), type: 'termination', employeeId: id, occurredAt: iso() }));
      const held = await admin.request('POST', `${t}/hr/imports`, terminations.join('\n'), { 'content-type': 'application/x-ndjson' });
      expect(held.body).to.include({ accepted: 6, held: 6 });
      const late = { eventId: eventId(), type: 'termination' as const, employeeId: 'R7', occurredAt: iso(), effectiveAt: null, displayName: null, profile: {}, cancelsEventId: null };
      let approving: Promise<ApiResponse> | undefined;
      // An intake half-way through: it holds the tenant's intake lock and has chosen the pending hold for its
      // termination. The approval arrives now, before the intake stores the termination under that hold.
      await testEnv().db.transaction().execute(async (tx) => {
        await lockHrIntake(tx, tenant.id);
        approving = admin.post(`${t}/hr/holds/${held.body.holdId}/approve`);
        await new Promise((r) => setTimeout(r, 500));
        await storeHrEvents(tx, [{ tenantId: tenant.id, payload: late, channel: 'webhook', importId: null, status: 'held', holdId: held.body.holdId }]);
      });
      const approved = await (approving as Promise<ApiResponse>);
      expect(approved.body).to.include({ status: 'approved', events: 7 });
      const row = await testEnv().db.selectFrom('hr_events').select(['status', 'hold_id']).where('tenant_id', '=', tenant.id).where('event_id', '=', late.eventId).executeTakeFirstOrThrow();
      expect(row.status).to.not.equal('held');
    });
  });

  describe('when a template repeats a step type', () => {
    it('should refuse to store it, naming the repeated step', async () => {
      const res = await admin.request('PUT', `${t}/lifecycle/templates/leaver`, {
        steps: [{ type: 'disable' }, { type: 'notify_manager' }, { type: 'wait', seconds: 60 }, { type: 'notify_manager' }, { type: 'delete' }],
      });
      expect([res.status, res.body.code]).to.deep.equal([400, 'validation_failed']);
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.steps.3.type']);
      expect(res.body.errors[0].message).to.match(/notify_manager/);
      expect((await admin.get(`${t}/lifecycle/templates/leaver`)).body.version).to.equal(0);
    });
  });

  describe('when a template\'s birthright rules name what is not in the tenant', () => {
    it('should refuse to store it, naming each missing bundle and group (a rule on a missing group would never match)', async () => {
      const joiner = (await admin.get(`${t}/lifecycle/templates/joiner`)).body;
      const missingGroup = randomUUID();
      const missingBundle = randomUUID();
      const res = await admin.request('PUT', `${t}/lifecycle/templates/joiner`, {
        ...joiner.definition,
        birthright: [
          { bundleId: bundles.eng, when: [{ type: 'any', rules: [{ type: 'group_member', groupId: groups.eng }, { type: 'group_member', groupId: missingGroup }] }] },
          { bundleId: missingBundle, when: [] },
        ],
      });
      expect([res.status, res.body.code]).to.deep.equal([422, 'reference_not_found']);
      expect(res.body.errors).to.deep.equal([
        { path: 'body.birthright[1].bundleId', message: `no bundle ${missingBundle}` },
        { path: 'body.birthright[0].when[0].rules[1].groupId', message: `no group ${missingGroup} in this tenant` },
      ]);
      expect((await admin.get(`${t}/lifecycle/templates/joiner`)).body.version).to.equal(joiner.version);
    });
  });

  describe('when a run is kicked off by hand', () => {
    it('should run it with the reason recorded', async () => {
      await send(hire('E10', { department: 'engineering' }));
      await waitFor('E10', 'active');
      const res = await admin.post(`${t}/people/${person('E10')}/lifecycle/kickoff`, { kind: 'leaver', reason: 'contract ended early' });
      expect(res.status).to.equal(202);
      await waitFor('E10', 'disabled');
      const run = (await lifecycleOf('E10')).runs.find((r: { id: string }) => r.id === res.body.runId);
      expect(run).to.include({ kind: 'leaver', trigger: 'manual', reason: 'contract ended early' });
    });
  });

  describe('when a kickoff is retried with the same Idempotency-Key', () => {
    it('should start one run, audit it once and answer every retry as the first time', async () => {
      await send(hire('K1', { department: 'engineering' }));
      await waitRun('K1', 'joiner', 'completed');
      const kickoff = (key: string, body = { kind: 'leaver', reason: 'contract ended early' }) =>
        admin.request('POST', `${t}/people/${person('K1')}/lifecycle/kickoff`, body, { 'idempotency-key': key });
      const first = await kickoff('leave-K1');
      expect(first.status).to.equal(202);
      // Retries, two of them at once, as a client does after a timeout.
      const retries = await Promise.all([kickoff('leave-K1'), kickoff('leave-K1'), kickoff('leave-K1')]);
      for (const r of retries) {
        expect(r.status).to.equal(202);
        expect(r.body).to.deep.equal(first.body);
        expect(r.headers.get('location')).to.equal(first.headers.get('location'));
      }
      const reused = await kickoff('leave-K1', { kind: 'joiner', reason: 'something else' });
      expect([reused.status, reused.body.code]).to.deep.equal([409, 'conflict']);
      await waitFor('K1', 'disabled');
      const manual = async () => (await lifecycleOf('K1')).runs.filter((r: { trigger: string }) => r.trigger === 'manual').map((r: { id: string }) => r.id);
      await eventually(async () => ((await manual()).length > 0 ? true : undefined), 10_000, 'manual run recorded');
      expect(await manual()).to.deep.equal([first.body.runId]);
      const audits = await testEnv().db.selectFrom('audit_events').select('details').where('tenant_id', '=', tenant.id).where('action', '=', 'lifecycle.kickoff').execute();
      expect(audits.map((a) => a.details.runId)).to.deep.equal([first.body.runId]);
      const history = await testEnv().client.workflow.getHandle(lifecycleWorkflowId(tenant.id, person('K1'))).fetchHistory();
      const kickoffs = (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'portal.lifecycle.kickoff');
      expect(kickoffs).to.have.length(1);
      // Another key is another run.
      const other = await kickoff('leave-K1-again');
      expect(other.body.runId).to.not.equal(first.body.runId);
    });
  });

  describe('when a fixed-term hire and its end are both sent ahead', () => {
    it('should start the person on the hire date and run the leaver on the end date, both shown as upcoming', async () => {
      const base = Date.now();
      await send(hire('FT1', { department: 'engineering' }, { effectiveAt: at(base, 8000) }));
      await send({ eventId: eventId(), type: 'termination', employeeId: 'FT1', occurredAt: iso(100), effectiveAt: at(base, 14_000), profile: {} });
      const upcoming = await eventually(async () => {
        const kinds = (((await lifecycleOf('FT1')).upcoming ?? []) as { kind: string }[]).map((u) => u.kind);
        return kinds.length === 2 ? kinds : undefined;
      }, 10_000, 'joiner and leaver upcoming');
      expect(upcoming).to.deep.equal(['joiner', 'leaver']);
      await waitFor('FT1', 'active');
      await waitFor('FT1', 'disabled');
      const runs = (await lifecycleOf('FT1')).runs as { kind: string; status: string }[];
      expect(runs.filter((r) => r.kind === 'joiner').map((r) => r.status)).to.deep.equal(['completed']);
    });

    it('should keep the end date when onboarding is run again by hand before the start, and drop it when the start moves past it', async () => {
      const base = Date.now();
      // Dated far enough ahead that both are still upcoming once the early onboarding has run.
      await send(hire('FT2', { department: 'engineering' }, { effectiveAt: at(base, 12_000) }));
      await send({ eventId: eventId(), type: 'termination', employeeId: 'FT2', occurredAt: iso(100), effectiveAt: at(base, 18_000), profile: {} });
      const upcomingKinds = async (employeeId: string) => (((await lifecycleOf(employeeId)).upcoming ?? []) as { kind: string }[]).map((u) => u.kind);
      await eventually(async () => ((await upcomingKinds('FT2')).length === 2 ? true : undefined), 10_000, 'joiner and leaver upcoming');
      // Onboarding run early by hand: the scheduled start and the end after it stay.
      const kickoff = await admin.post(`${t}/people/${person('FT2')}/lifecycle/kickoff`, { kind: 'joiner', reason: 'laptop needed early' });
      expect(kickoff.status).to.equal(202);
      await waitFor('FT2', 'active');
      expect(await upcomingKinds('FT2')).to.deep.equal(['joiner', 'leaver']);
      await waitFor('FT2', 'disabled', 40_000);
      // The scheduled start ran at its date too (not left scheduled behind the promoted end).
      await eventually(async () => ((await upcomingKinds('FT2')).length === 0 ? true : undefined), 10_000, 'nothing left upcoming');

      // A dated departure of an active person stays when onboarding is run again by hand.
      await send(hire('FT4', { department: 'engineering' }));
      await waitRun('FT4', 'joiner', 'completed');
      await send({ eventId: eventId(), type: 'termination', employeeId: 'FT4', occurredAt: iso(100), effectiveAt: at(Date.now(), 120_000), profile: {} });
      await eventually(async () => ((await upcomingKinds('FT4')).join() === 'leaver' ? true : undefined), 10_000, 'leaver upcoming');
      await admin.post(`${t}/people/${person('FT4')}/lifecycle/kickoff`, { kind: 'joiner', reason: 'birthright fixed' });
      await eventually(async () => ((await lifecycleOf('FT4')).runs.filter((r: { kind: string; status: string }) => r.kind === 'joiner' && r.status === 'completed').length === 2 ? true : undefined), 10_000, 'second joiner');
      expect(await upcomingKinds('FT4')).to.deep.equal(['leaver']);

      // A second hire moves the start past the end: the end no longer follows it.
      await send(hire('FT3', { department: 'engineering' }, { effectiveAt: at(base, 60_000) }));
      const end = { eventId: eventId(), type: 'termination', employeeId: 'FT3', occurredAt: iso(200), effectiveAt: at(base, 90_000), profile: {} };
      await send(end);
      await eventually(async () => ((await upcomingKinds('FT3')).length === 2 ? true : undefined), 10_000, 'joiner and leaver upcoming');
      await send(hire('FT3', { department: 'engineering' }, { occurredAt: iso(300), effectiveAt: at(base, 120_000) }));
      await eventually(async () => ((await upcomingKinds('FT3')).join() === 'joiner' ? true : undefined), 10_000, 'only the moved joiner upcoming');
    });
  });

  describe('when a termination is cancelled while its leaver waits to delete the person', () => {
    it('should cancel the deletion and restore the person', async () => {
      expect((await admin.request('PUT', `${t}/hr/settings`, { disableThreshold: 5, leaverDeleteAfterSeconds: 60 })).status).to.equal(200);
      await send(hire('TC1', { department: 'engineering' }));
      await waitRun('TC1', 'joiner', 'completed');
      const termination = { eventId: eventId(), type: 'termination', employeeId: 'TC1', occurredAt: iso(100), profile: {} };
      await send(termination);
      await waitFor('TC1', 'disabled');
      await send({ eventId: eventId(), type: 'cancellation', employeeId: 'TC1', occurredAt: iso(200), cancelsEventId: termination.eventId, profile: {} });
      await waitFor('TC1', 'active');
      await waitRun('TC1', 'leaver', 'cancelled');
      expect((await lifecycleOf('TC1')).upcoming).to.deep.equal([]);
    });
  });

  describe('when a cancellation sent before a run\'s date is delivered after it (the worker was down over the date)', () => {
    /**
     * Runs `scenario` against a worker and API of its own, stopped at `down()` and started again on the same
     * task queue at `up()`: what reached the lifecycle meanwhile is applied together with the timers that
     * fired meanwhile, as after an outage.
     */
    async function withOutage(scenario: (own: { send: typeof send; down(): Promise<void>; up(): Promise<void> }) => Promise<void>) {
      let ownWorker = await startWorker();
      const ownApi = await startApi(ownWorker.taskQueue);
      try {
        await scenario({
          send: sendTo(ownApi.baseUrl),
          down: () => ownWorker.stop(),
          up: async () => {
            ownWorker = await startWorker(ownWorker.taskQueue);
          },
        });
      } finally {
        await ownApi.stop();
        await ownWorker.stop();
      }
    }
    const untilPast = async (isoTime: string) => {
      while (Date.now() < Date.parse(isoTime) + 1000) await new Promise((r) => setTimeout(r, 200));
    };

    it('should cancel a future hire\'s joiner instead of running it first', async () => {
      await withOutage(async (own) => {
        // Far enough ahead that the worker is down before the date, even when stopping it is slow.
        const startsAt = iso(8000);
        const h = hire('CD1', { department: 'engineering' }, { effectiveAt: startsAt });
        expect((await own.send(h)).status).to.equal(202);
        await eventually(async () => ((await lifecycleOf('CD1')).upcoming?.length === 1 ? true : undefined), 10_000, 'joiner scheduled');
        await own.down();
        const cancellation = { eventId: eventId(), type: 'cancellation', employeeId: 'CD1', occurredAt: iso(1), cancelsEventId: h.eventId };
        expect((await own.send(cancellation)).status).to.equal(202);
        await waitEvent('CD1', cancellation.eventId, 'dispatched');
        await untilPast(startsAt);
        await own.up();
        await waitEvent('CD1', cancellation.eventId, 'applied');
        const runs = (await lifecycleOf('CD1')).runs as { kind: string; status: string }[];
        expect(runs.map((r) => [r.kind, r.status])).to.deep.equal([['joiner', 'cancelled']]);
        expect(await statusOf('CD1')).to.equal('pending');
        expect(await liveEdges('CD1')).to.deep.equal([]);
      });
    });

    it('should keep a person whose termination was cancelled before the retention wait ended', async () => {
      // Long enough that the worker is down before the deletion is due, even when stopping it is slow.
      expect((await admin.request('PUT', `${t}/hr/settings`, { leaverDeleteAfterSeconds: 8 })).status).to.equal(200);
      await withOutage(async (own) => {
        await own.send(hire('CD2', { department: 'engineering' }));
        await waitRun('CD2', 'joiner', 'completed');
        const termination = { eventId: eventId(), type: 'termination', employeeId: 'CD2', occurredAt: iso(1), profile: {} };
        await own.send(termination);
        await waitFor('CD2', 'disabled');
        const deletion = await eventually(async () => (await lifecycleOf('CD2')).upcoming?.[0] as { at: string } | undefined, 20_000, 'leaver waiting to delete');
        await own.down();
        const cancellation = { eventId: eventId(), type: 'cancellation', employeeId: 'CD2', occurredAt: iso(2), cancelsEventId: termination.eventId };
        await own.send(cancellation);
        await waitEvent('CD2', cancellation.eventId, 'dispatched');
        await untilPast(deletion.at);
        await own.up();
        await waitFor('CD2', 'active');
        await waitRun('CD2', 'leaver', 'cancelled');
        expect((await lifecycleOf('CD2')).upcoming).to.deep.equal([]);
      });
    });
  });

  describe('when the HR system sends a burst', () => {
    /**
     * Runs `scenario` against an API of its own (hand-over tuned by `options`) while the HR system re-sends one
     * event from four connections at once, as fast as it is answered: a burst of real deliveries, stored once.
     */
    async function duringBurst(options: HrDispatcherOptions, scenario: (own: { send: typeof send; endBurst(): Promise<void> }) => Promise<void>) {
      const ownApi = await startApi(worker.taskQueue, options);
      const own = sendTo(ownApi.baseUrl);
      const resent = hire('BX', { department: 'engineering' });
      let bursting = true;
      const burst = Promise.all(Array.from({ length: 4 }, async () => {
        while (bursting) await own(resent);
      }));
      const endBurst = async () => {
        bursting = false;
        await burst;
      };
      try {
        await eventually(async () => ((await eventsOf('BX')).length === 1 ? true : undefined), 10_000, 'the re-sent event stored');
        await scenario({ send: own, endBurst });
      } finally {
        await endBurst();
        await ownApi.stop();
      }
    }

    it('should store and answer each delivery at once, and hand the events over once the burst has ended', async () => {
      await duringBurst({ burstDeliveries: 5, burstWindowMs: 2000 }, async (own) => {
        const h = hire('B1', { department: 'engineering' });
        expect((await own.send(h)).status).to.equal(202);
        await new Promise((r) => setTimeout(r, 1000));
        expect((await eventsOf('B1')).map((e) => [e.eventId, e.status])).to.deep.equal([[h.eventId, 'received']]);
        expect((await admin.get(`${t}/people/${person('B1')}`)).status, 'the hire has not created the person').to.equal(404);
        await own.endBurst();
        await waitRun('B1', 'joiner', 'completed');
        await waitRun('BX', 'joiner', 'completed');
      });
    });

    it('should hand a held update over once it has waited the longest a burst may hold it, and a termination at once with the updates held before it', async () => {
      // The dispatcher alone, on a queue no worker polls, with events no sweeper can find: only it hands them over.
      const env = testEnv();
      const deps: ApiDeps = { db: env.db, temporal: { client: env.client, taskQueue: uniqueTaskQueue('unpolled') }, logger: testLogger, secretKey: testSecretKey };
      const dispatcher = new HrDispatcher(deps, { burstDeliveries: 5, burstWindowMs: 2000, maxDeferMs: 8000 });
      const bursting = setInterval(() => {
        for (let i = 0; i < 5; i += 1) dispatcher.deliveryArrived();
      }, 100);
      const event = (employeeId: string, type: 'update' | 'termination'): HrEvent => {
        const payload = { eventId: eventId(), type, employeeId, occurredAt: iso(), effectiveAt: null, displayName: null, profile: {}, cancelsEventId: null };
        return {
          id: randomUUID(), tenantId: tenant.id, eventId: payload.eventId, type, employeeId, personId: person(employeeId), occurredAt: new Date(payload.occurredAt),
          effectiveAt: null, channel: 'webhook', importId: null, holdId: null, status: 'received', outcome: null, receivedAt: new Date(), payload,
        };
      };
      const lifecycleRun = (employeeId: string) => env.client.workflow.getHandle(lifecycleWorkflowId(tenant.id, person(employeeId)));
      const handedOver = (employeeId: string) => lifecycleRun(employeeId).describe().then(() => true, () => undefined);
      try {
        // The burst is on from the first enqueue (the interval keeps it on).
        for (let i = 0; i < 5; i += 1) dispatcher.deliveryArrived();
        dispatcher.enqueue(tenant.id, [event('H1', 'update')]);
        dispatcher.enqueue(tenant.id, [event('H2', 'termination')]);
        dispatcher.enqueue(tenant.id, [event('H3', 'update')]);
        await eventually(() => handedOver('H2'), 10_000, 'the termination handed over during the burst');
        expect(await handedOver('H1'), 'the update held').to.equal(undefined);
        // A termination joining H3's held queue takes it over at once, the update with it.
        dispatcher.enqueue(tenant.id, [event('H3', 'termination')]);
        await eventually(() => handedOver('H3'), 10_000, 'the held queue a termination joined');
        expect(await handedOver('H1'), 'the other update still held').to.equal(undefined);
        await eventually(() => handedOver('H1'), 20_000, 'the update handed over, the burst going on');
      } finally {
        clearInterval(bursting);
        dispatcher.stop();
        for (const id of ['H1', 'H2', 'H3']) await lifecycleRun(id).terminate('test over').catch(() => undefined);
      }
    });
  });

  describe('when a batch of updates is applied again after it committed', () => {
    it('should answer as the first time: the same marks and the same mover', async () => {
      await send(hire('U1', { department: 'engineering' }));
      await waitRun('U1', 'joiner', 'completed');
      // As a local activity retried after its commit, or run again by a worker that took over.
      const update = (profile: Record<string, string>) => ({
        eventRowId: randomUUID(), label: '',
        payload: { eventId: eventId(), type: 'update' as const, employeeId: 'U1', occurredAt: iso(), effectiveAt: null, displayName: null, profile, cancelsEventId: null },
      });
      const events = [update({ payGrade: 'G7' }), update({ department: 'sales' }), update({ payGrade: 'G8' })];
      const { applyHrUpdates } = lifecycleActivities(testEnv().db);
      const input = { tenantId: tenant.id, personId: person('U1'), personActive: true, events };
      const first = await applyHrUpdates(input);
      expect(first).to.deep.equal({ marked: 1, mover: ['department'] });
      expect(await applyHrUpdates(input)).to.deep.equal(first);
    });
  });

  describe('when the same kickoff reaches the lifecycle twice', () => {
    it('should run it once', async () => {
      await send(hire('K2', { department: 'engineering' }));
      await waitRun('K2', 'joiner', 'completed');
      // As when the signal went through but the API's record of it did not, and the client retried.
      const handle = testEnv().client.workflow.getHandle(lifecycleWorkflowId(tenant.id, person('K2')));
      const kickoff = { kind: 'leaver' as const, reason: 'contract ended early', runId: randomUUID(), actor: { kind: 'api_token' as const, id: 'test' } };
      await handle.signal(kickoffSignal, kickoff);
      await handle.signal(kickoffSignal, kickoff);
      await waitFor('K2', 'disabled');
      await eventually(async () => ((await handle.query(lifecycleStateQuery)).recentKickoffs?.includes(kickoff.runId) ? true : undefined), 10_000, 'kickoff seen');
      const history = await handle.fetchHistory();
      const starts = (history.events ?? []).filter((e) => e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data
        && Buffer.from(e.markerRecordedEventAttributes.details.data.payloads[0].data).toString().includes('"activity_type":"startRun"'));
      // The joiner's start and the leaver's: the repeated kickoff started nothing.
      expect(starts).to.have.length(2);
    });
  });

  describe('when a person\'s lifecycle is lost and their termination arrives', () => {
    it('should take where they stand from Portal and run the leaver', async () => {
      await send(hire('R9', { department: 'engineering' }));
      await waitRun('R9', 'joiner', 'completed');
      // The run and its state are gone (terminated by an operator, or a namespace restored without it).
      await testEnv().client.workflow.getHandle(lifecycleWorkflowId(tenant.id, person('R9'))).terminate('lost');
      await send({ eventId: eventId(), type: 'termination', employeeId: 'R9', occurredAt: iso(1000), profile: {} });
      await waitFor('R9', 'disabled');
      const leavers = (await lifecycleOf('R9')).runs.filter((r: { kind: string }) => r.kind === 'leaver');
      expect(leavers).to.have.length(1);
    });
  });

  describe('when a lifecycle has processed many events', () => {
    it('should continue as new and keep its state', async () => {
      // Start the lifecycle first with a small continue-as-new threshold; the intake then reuses it.
      const handle = await testEnv().client.workflow.start('lifecycle', {
        taskQueue: worker.taskQueue, workflowId: lifecycleWorkflowId(tenant.id, person('E11')), args: [{ tenantId: tenant.id, personId: person('E11'), continueAfterEvents: 2 }],
      });
      const first = handle.firstExecutionRunId;
      await send(hire('E11', { department: 'engineering' }));
      await waitRun('E11', 'joiner', 'completed');
      for (let i = 0; i < 4; i += 1) await send({ eventId: eventId(), type: 'update', employeeId: 'E11', occurredAt: iso(1000 + i), profile: { payGrade: `P${i}` } });
      const latest = testEnv().client.workflow.getHandle(lifecycleWorkflowId(tenant.id, person('E11')));
      const state = await eventually(async () => {
        const s = await latest.query(lifecycleStateQuery);
        return s.eventsProcessed === 5 ? s : undefined;
      }, 20_000, 'five events processed');
      expect(state.personState).to.equal('active');
      expect((await latest.describe()).runId).to.not.equal(first);
      expect((await admin.get(`${t}/people/${person('E11')}`)).body.profile.payGrade).to.equal('P3');
    });
  });
});
