/** A small multi-tenant world for API tests: an operator, two customers, a vendor, and their tokens. */
import type { Tenant } from '../../db/repositories/tenants';
import { ApiClient, type RunningApi, type RunningWorker, seedTenant, seedToken, startApi, startWorker } from './fixtures';

export interface World {
  api: RunningApi;
  worker: RunningWorker;
  operator: Tenant;
  acme: Tenant;
  globex: Tenant;
  vendor: Tenant;
  /** All permissions, per tenant. */
  asOperator: ApiClient;
  asAcme: ApiClient;
  asGlobex: ApiClient;
  asVendor: ApiClient;
  /** A token of acme with no permissions at all. */
  asAcmeUnprivileged: ApiClient;
  anonymous: ApiClient;
  stop(): Promise<void>;
}

/** Builds the world; `connectorKinds` names the connector workers to run next to the governance worker. */
export async function createWorld(options: { connectorKinds?: string[] } = {}): Promise<World> {
  const worker = await startWorker(undefined, { connectorKinds: options.connectorKinds ?? [] });
  const api = await startApi(worker.taskQueue);
  const [operator, acme, globex, vendor] = await Promise.all([
    seedTenant('operator'), seedTenant('customer', 'acme'), seedTenant('customer', 'globex'), seedTenant('vendor'),
  ]);
  const anonymous = new ApiClient(api.baseUrl, null);
  return {
    api, worker, operator, acme, globex, vendor,
    asOperator: anonymous.as(await seedToken(operator.id)),
    asAcme: anonymous.as(await seedToken(acme.id)),
    asGlobex: anonymous.as(await seedToken(globex.id)),
    asVendor: anonymous.as(await seedToken(vendor.id)),
    asAcmeUnprivileged: anonymous.as(await seedToken(acme.id, [])),
    anonymous,
    stop: async () => {
      await api.stop();
      await worker.stop();
    },
  };
}
