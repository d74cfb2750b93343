/**
 * The Portal command line, for administration that must work before any API token exists.
 *   npm run portal -- db migrate
 *   npm run portal -- bootstrap                      first operator tenant + all-permission token
 *   npm run portal -- token create --tenant <slug> --name <name> --permissions a,b|all
 * It opens the configured database directly: with the embedded database, stop `npm start` first.
 */
import { parseArgs } from 'node:util';
import { migrateToLatest } from '../db/connect';
import { createApiToken } from '../db/repositories/api-tokens';
import { appendAudit } from '../db/repositories/audit';
import { getTenantBySlug } from '../db/repositories/tenants';
import { isPermission, Permissions } from '../api/permissions';
import { loadConfig } from '../workers/config';
import { bootstrapOperator, openConfiguredDatabase } from '../workers/process';

const usage = `usage:
  portal db migrate
  portal bootstrap
  portal token create --tenant <slug> --name <name> --permissions <p1,p2,...|all>`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv, allowPositionals: true,
    options: { tenant: { type: 'string' }, name: { type: 'string' }, permissions: { type: 'string' } },
  });
  const command = positionals.join(' ');
  const known = ['db migrate', 'bootstrap', 'token create'];
  if (!known.includes(command)) {
    console.error(usage);
    return 2;
  }
  const db = openConfiguredDatabase(loadConfig());
  try {
    const applied = await migrateToLatest(db);
    if (command === 'db migrate') {
      console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date');
      return 0;
    }
    if (command === 'bootstrap') {
      const result = await bootstrapOperator(db);
      if (!result) {
        console.error('An operator tenant exists already; use `token create --tenant operator`.');
        return 1;
      }
      console.log(`operator tenant: ${result.tenantId}`);
      console.log(`token (shown once): ${result.secret}`);
      return 0;
    }
    if (!values.tenant || !values.name || !values.permissions) {
      console.error(usage);
      return 2;
    }
    const requested = values.permissions === 'all' ? [...Permissions] : values.permissions.split(',').map((p) => p.trim());
    const unknown = requested.filter((p) => !isPermission(p));
    if (unknown.length > 0) {
      console.error(`unknown permissions: ${unknown.join(', ')}\nknown: ${Permissions.join(', ')}`);
      return 2;
    }
    const tenant = await getTenantBySlug(db, values.tenant);
    if (!tenant) {
      console.error(`no tenant with slug ${values.tenant}`);
      return 1;
    }
    const { token, secret } = await db.transaction().execute(async (tx) => {
      const created = await createApiToken(tx, { tenantId: tenant.id, name: values.name as string, permissions: requested });
      await appendAudit(tx, {
        tenantId: tenant.id, actor: { kind: 'cli', id: 'portal-cli' }, action: 'api_token.created',
        target: { kind: 'api_token', id: created.token.id }, details: { name: created.token.name, permissions: created.token.permissions },
      });
      return created;
    });
    console.log(`token ${token.id} for tenant ${tenant.slug} (shown once): ${secret}`);
    return 0;
  } finally {
    await db.destroy();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
