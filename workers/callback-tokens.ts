import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Callback tokens: what a vendor job, a ticketing system or a person presents to complete a plan step that
 * awaits them. Signed (HMAC-SHA256 under a key derived from PORTAL_SECRET_KEY, so no token is stored) and
 * made single-use by the database row its id names. Format: `<base64url(claims)>.<base64url(mac)>`.
 */
export interface CallbackClaims {
  /** The token's id (a provisioning_callback_tokens row). */
  tokenId: string;
  planId: string;
  stepKey: string;
  round: number;
  /** Expiry, epoch seconds: the step's deadline. */
  expiresAt: number;
}

function macKey(secretKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'portal callback tokens v1', 32));
}

export function signCallbackToken(secretKey: Buffer, claims: CallbackClaims): string {
  const payload = Buffer.from(JSON.stringify({ t: claims.tokenId, p: claims.planId, s: claims.stepKey, r: claims.round, e: claims.expiresAt }), 'utf8').toString('base64url');
  const mac = createHmac('sha256', macKey(secretKey)).update(payload).digest('base64url');
  return `${payload}.${mac}`;
}

/** The claims of a token Portal signed, or null for anything else (a forgery, a truncation, garbage). */
export function verifyCallbackToken(secretKey: Buffer, token: string): CallbackClaims | null {
  const [payload, mac, extra] = token.split('.');
  if (!payload || !mac || extra !== undefined) return null;
  const expected = createHmac('sha256', macKey(secretKey)).update(payload).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const c = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof c.t !== 'string' || typeof c.p !== 'string' || typeof c.s !== 'string' || typeof c.r !== 'number' || typeof c.e !== 'number') return null;
    return { tokenId: c.t, planId: c.p, stepKey: c.s, round: c.r, expiresAt: c.e };
  } catch {
    return null;
  }
}
