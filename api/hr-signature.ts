import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { getHrSettings } from '../db/repositories/hr';
import { getTenant, type Tenant } from '../db/repositories/tenants';
import { decryptSecret } from '../workers/secrets';
import type { ApiDeps } from './context';
import { ApiError } from './problems';
import { TtlCache } from './ttl-cache';

/**
 * Each tenant's HR intake context (the tenant and its decrypted HR secret), kept for a few seconds so a burst
 * of events neither looks the tenant up nor decrypts per request. A rotated secret takes effect within that
 * time (the old one stops working as soon as the entry expires). Unknown tenants are not kept.
 */
const intake = new TtlCache<{ tenant: Tenant; secret: string | null } | null>(5_000, async (db, tenantId, key) => {
  const tenant = await getTenant(db, tenantId);
  if (!tenant) return null;
  const settings = await getHrSettings(db, tenantId);
  return { tenant, secret: settings.secretCiphertext ? decryptSecret(key as Buffer, settings.secretCiphertext) : null };
});

/** Forgets a tenant's cached secret (after a rotation in this process). */
export function forgetHrSecret(tenantId: string): void {
  intake.delete(tenantId);
}

/** How far the signed timestamp may be from now, either way. */
export const SIGNATURE_WINDOW_SECONDS = 300;

/** The signature an HR system sends: `v1=` + hex HMAC-SHA256 of `<timestamp>.<raw body>` under the tenant's secret. */
export function signHrPayload(secret: string, timestamp: number, body: string | Buffer): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * Checks `X-Portal-Timestamp` and `X-Portal-Signature` against the tenant's HR secret and answers the tenant.
 * Every failure, an unknown tenant included, is the same `unauthenticated` to the caller (which part failed is
 * logged, not told).
 */
export async function verifyHrSignature(req: Request, deps: ApiDeps, tenantId: string): Promise<Tenant> {
  const refuse = (why: string) => {
    req.log.info({ tenantId, why }, 'hr webhook refused');
    return new ApiError('unauthenticated', 'Sign the body with the tenant\'s HR secret: X-Portal-Timestamp and X-Portal-Signature.');
  };
  const timestamp = Number(req.get('x-portal-timestamp'));
  const signature = req.get('x-portal-signature') ?? '';
  if (!Number.isInteger(timestamp) || !signature) throw refuse('missing signature headers');
  if (Math.abs(Date.now() / 1000 - timestamp) > SIGNATURE_WINDOW_SECONDS) throw refuse('timestamp outside the window');
  const context = await intake.get(deps.db, tenantId, deps.secretKey);
  if (!context) {
    intake.delete(tenantId);
    throw refuse('no such tenant');
  }
  if (!context.secret) throw refuse('no HR secret configured');
  const raw = (req as Request & { rawBody?: Buffer }).rawBody ?? Buffer.alloc(0);
  const expected = Buffer.from(signHrPayload(context.secret, timestamp, raw));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw refuse('signature mismatch');
  return context.tenant;
}
