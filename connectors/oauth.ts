import { z } from 'zod';
import { ConnectorError } from './errors';
import { parseVendorBody } from './http';
import type { ConnectorContext } from './types';

const tokenResponse = z.object({ access_token: z.string(), expires_in: z.number(), token_type: z.string() });

/**
 * An OAuth 2.0 access token from a token endpoint (RFC 6749 §4.4 client credentials, RFC 7523 JWT bearer),
 * cached in the instance's cache until a minute before it expires. The endpoint's 400 and 401 answers
 * (`invalid_client`, `invalid_grant`, `unauthorized_client`) mean the credentials: `unauthorized`, with the
 * endpoint's `error` as the vendor code and never its description (which may echo what was sent).
 */
export async function oauthAccessToken(ctx: ConnectorContext, request: { url: string; form: () => Record<string, string>; what: string }): Promise<string> {
  const cached = ctx.cache.get('oauth-token') as { token: string; expiresAt: number } | undefined;
  if (cached && cached.expiresAt > ctx.now().getTime() + 60_000) return cached.token;
  const res = await ctx.http.request({ method: 'POST', url: request.url, form: request.form() });
  const error = (res.body as { error?: unknown } | null)?.error;
  // Some endpoints (Zoho's) answer a refused grant with 200 and an `error` body instead of RFC 6749's 400.
  if (res.status === 400 || res.status === 401 || (res.status === 200 && typeof error === 'string')) {
    throw new ConnectorError({ kind: 'unauthorized', status: res.status, vendorCode: typeof error === 'string' ? error : null, message: `${request.what}: the token endpoint refused the credentials` });
  }
  if (res.status !== 200) throw ctx.http.fail(res, request.what);
  const token = parseVendorBody(tokenResponse, res.body, request.what);
  ctx.cache.set('oauth-token', { token: token.access_token, expiresAt: ctx.now().getTime() + token.expires_in * 1000 });
  return token.access_token;
}
