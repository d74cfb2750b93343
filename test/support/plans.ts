import { type ApiClient, type ApiResponse, eventually } from './fixtures';

/** Polls a plan until its status is one of `statuses`. */
export async function planSettles(client: ApiClient, tenantId: string, planId: string, statuses = ['completed', 'completed_with_failures'], timeoutMs = 30_000): Promise<ApiResponse> {
  return eventually(async () => {
    const res = await client.get(`/v1/tenants/${tenantId}/plans/${planId}`);
    return statuses.includes(res.body.status) ? res : undefined;
  }, timeoutMs, `plan ${planId} to reach ${statuses.join('/')}`);
}
