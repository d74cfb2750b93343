import { expect } from 'chai';
import { sql } from 'kysely';
import { appendAudit } from '../../db/repositories/audit';
import { testEnv } from '../support/env';
import { seedTenant } from '../support/fixtures';

describe('audit_events', () => {
  describe('when anyone tries to rewrite history', () => {
    it('should refuse UPDATE, DELETE and TRUNCATE in the database itself', async () => {
      const { db } = testEnv();
      const tenant = await seedTenant('customer');
      await appendAudit(db, { tenantId: tenant.id, actor: { kind: 'system', id: 'test' }, action: 'test.event', target: { kind: 'tenant', id: tenant.id } });
      const refused = async (statement: ReturnType<typeof sql>) => {
        try {
          await statement.execute(db);
        } catch (err) {
          return (err as Error).message;
        }
        return 'allowed';
      };
      expect(await refused(sql`update audit_events set action = 'forged' where tenant_id = ${tenant.id}`)).to.match(/append-only/);
      expect(await refused(sql`delete from audit_events where tenant_id = ${tenant.id}`)).to.match(/append-only/);
      expect(await refused(sql`truncate audit_events`)).to.match(/append-only/);
      const rows = await db.selectFrom('audit_events').select('action').where('tenant_id', '=', tenant.id).execute();
      expect(rows.map((r) => r.action)).to.deep.equal(['test.event']);
    });
  });
});
