import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { pinoHttp } from 'pino-http';
import { sql } from 'kysely';
import { z } from 'zod';
import { InvalidCursorError } from '../db/repositories/pagination';
import { GroupCycleError } from '../db/repositories/group-members';
import { getTenant } from '../db/repositories/tenants';
import { authenticate } from './auth';
import { type ApiDeps, type Caller, canActOn } from './context';
import { HrDispatcher } from './hr-dispatch';
import { verifyHrSignature } from './hr-signature';
import { buildOpenApiDocument } from './openapi';
import { ApiError, fieldErrors, nulCharacterErrors, problemBody } from './problems';
import type { RouteDef } from './route';
import { allRoutes } from './routes';

/** The largest JSON body the API accepts. */
export const MAX_BODY_BYTES = 64 * 1024;
/** The largest text body (an HR batch import). */
export const MAX_IMPORT_BYTES = 10 * 1024 * 1024;
const textBodyTypes = ['text/csv', 'application/x-ndjson', 'application/jsonl'];

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
const tenantIdParam = z.strictObject({ tenantId: z.string() });

function requestIdOf(req: Request): string {
  return String(req.id);
}

/** Converts anything a handler or middleware threw into the ApiError the client sees. */
function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof InvalidCursorError) return new ApiError('invalid_cursor', err.message);
  if (err instanceof GroupCycleError) return new ApiError('group_cycle', err.message);
  const type = (err as { type?: unknown } | null)?.type;
  switch (type) {
    case 'entity.parse.failed':
      return new ApiError('invalid_json', 'The request body could not be parsed as JSON.');
    case 'entity.too.large': {
      // The limit of the parser that refused it: JSON bodies' or a text import's.
      const limit = (err as { limit?: unknown }).limit;
      return new ApiError('payload_too_large', `This request's body is limited to ${typeof limit === 'number' ? limit : MAX_BODY_BYTES} bytes.`);
    }
    case 'request.aborted':
    case 'request.size.invalid':
      return new ApiError('validation_failed', 'The request body ended before its declared length.');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new ApiError('unsupported_media_type', 'Send UTF-8 JSON.');
    default:
      return new ApiError('internal', 'An internal error occurred; the request id identifies it in the logs.');
  }
}

function hasBody(req: Request): boolean {
  return req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? '0') > 0;
}

/**
 * Turns one route declaration into an Express handler: auth, tenant scope, permission, validation, and the
 * refusal of NUL characters anywhere in params, query or body (no handler ever sees one).
 */
function handle(route: RouteDef, deps: ApiDeps) {
  const params = route.tenantScoped ? (route.params ?? z.strictObject({})).extend({ tenantId: z.string() }) : (route.params ?? z.strictObject({}));
  const query = route.query ?? z.strictObject({});
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      let caller: Caller;
      let tenant = null;
      if (route.auth === 'hr_signature') {
        const { tenantId } = tenantIdParam.parse({ tenantId: req.params.tenantId });
        tenant = await verifyHrSignature(req, deps, tenantId);
        caller = { tokenId: 'hr-webhook', tenantId: tenant.id, tenantKind: tenant.kind, personId: null, permissions: new Set() };
      } else if (route.auth === 'callback_token') {
        caller = { tokenId: 'callback', tenantId: '', tenantKind: 'customer', personId: null, permissions: new Set() };
      } else {
        const authenticated = await authenticate(req, deps);
        caller = authenticated.caller;
        if (route.tenantScoped) {
          const { tenantId } = tenantIdParam.parse({ tenantId: req.params.tenantId });
          tenant = tenantId === caller.tenantId ? authenticated.tenant : await getTenant(deps.db, tenantId);
          if (!tenant || !canActOn(caller, tenant)) throw new ApiError('tenant_not_found', `Tenant ${tenantId} was not found.`);
        }
      }
      const needed = route.permission === null ? [] : typeof route.permission === 'string' ? [route.permission] : route.permission;
      if (needed.length > 0 && !needed.some((p) => caller.permissions.has(p))) {
        throw new ApiError('forbidden', `This needs the ${needed.join(' or ')} permission.`);
      }
      const p = params.safeParse({ ...req.params });
      if (!p.success) throw new ApiError('validation_failed', 'Path parameters are not valid.', fieldErrors('params', p.error));
      const q = query.safeParse({ ...(req.query as object) });
      if (!q.success) throw new ApiError('validation_failed', 'Query parameters are not valid.', fieldErrors('query', q.error));
      if (route.headers) {
        const h = route.headers.safeParse(req.headers);
        if (!h.success) throw new ApiError('validation_failed', 'Headers are not valid.', fieldErrors('header', h.error));
      }
      let body: unknown = undefined;
      if (route.body && route.bodyType === 'text') {
        if (!req.is(textBodyTypes)) throw new ApiError('unsupported_media_type', `Send the body as ${textBodyTypes.join(' or ')}.`);
        const b = route.body.safeParse(typeof req.body === 'string' ? req.body : undefined);
        if (!b.success) throw new ApiError('validation_failed', 'The request body is not valid.', fieldErrors('body', b.error));
        body = b.data;
      } else if (route.body) {
        if (hasBody(req) && !req.is('application/json')) throw new ApiError('unsupported_media_type', 'Send the body as application/json.');
        const b = route.body.safeParse(req.body);
        if (!b.success) throw new ApiError('validation_failed', 'The request body is not valid.', fieldErrors('body', b.error));
        body = b.data;
      }
      const nul = [...nulCharacterErrors('params', req.params), ...nulCharacterErrors('query', req.query), ...(route.body ? nulCharacterErrors('body', req.body) : [])];
      if (nul.length > 0) throw new ApiError('validation_failed', 'The request contains the NUL character (U+0000), which Portal cannot store.', nul);
      const result = await route.handler({
        params: p.data, query: q.data, body, caller, tenant: tenant as never, requestId: requestIdOf(req), deps, log: req.log, req,
      });
      for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v);
      if (result.body === undefined) res.status(result.status).end();
      else res.status(result.status).json(result.body);
    } catch (err) {
      next(err);
    }
  };
}

/** Builds the Express app over injected dependencies. */
export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  deps.hrDispatcher ??= new HrDispatcher(deps, deps.hrHandOver);
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(pinoHttp({
    logger: deps.logger,
    genReqId: (req, res) => {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug'),
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (req, res) => {
    const checks = await Promise.all([
      sql`select 1`.execute(deps.db).then(() => 'ok', (e: Error) => e.message),
      deps.temporal.client.connection.withDeadline(Date.now() + 2000, () => deps.temporal.client.connection.workflowService.getSystemInfo({}))
        .then(() => 'ok', (e: Error) => e.message),
    ]);
    const [database, temporal] = checks;
    if (database === 'ok' && temporal === 'ok') {
      res.json({ status: 'ready', checks: { database, temporal } });
      return;
    }
    req.log.warn({ database, temporal }, 'not ready');
    const problem = problemBody(new ApiError('unavailable', 'Not ready: a dependency is unreachable.'), requestIdOf(req));
    res.status(503).type('application/problem+json').json({ ...problem, checks: { database: database === 'ok' ? 'ok' : 'unreachable', temporal: temporal === 'ok' ? 'ok' : 'unreachable' } });
  });
  const openapi = buildOpenApiDocument(allRoutes);
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });

  // The raw bytes are kept for signature checks (HR webhooks sign the exact body they send).
  const keepRaw = (req: Request, _res: Response, buf: Buffer) => {
    (req as Request & { rawBody?: Buffer }).rawBody = buf;
  };
  app.use(express.json({ limit: MAX_BODY_BYTES, strict: true, type: ['application/json', 'application/*+json'], verify: keepRaw }));
  app.use(express.text({ limit: MAX_IMPORT_BYTES, type: textBodyTypes }));
  const router = express.Router({ strict: true });
  for (const route of allRoutes) router[route.method](route.path, handle(route, deps));
  app.use(router);

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new ApiError('route_not_found', `No endpoint ${req.method} ${req.path}.`));
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const apiError = toApiError(err);
    if (apiError.code === 'internal') req.log.error({ err }, 'unhandled error');
    if (apiError.code === 'unauthenticated') res.setHeader('WWW-Authenticate', 'Bearer realm="portal"');
    const body = problemBody(apiError, requestIdOf(req));
    res.status(body.status).type('application/problem+json').json(body);
  });
  return app;
}
