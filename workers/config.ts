import { resolve } from 'node:path';
import { z } from 'zod';

const emptyToUndefined = (v: unknown) => (v === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().min(1).optional());

const envSchema = z.object({
  PORTAL_HOST: z.preprocess(emptyToUndefined, z.string().default('127.0.0.1')),
  PORTAL_PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).default(3000)),
  PORTAL_DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('.data')),
  DATABASE_URL: z.preprocess(emptyToUndefined, z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional()),
  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.preprocess(emptyToUndefined, z.string().min(1).default('default')),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_TLS_CERT_PATH: optionalString,
  TEMPORAL_TLS_KEY_PATH: optionalString,
  TEMPORAL_TLS_CA_PATH: optionalString,
  TEMPORAL_TLS_SERVER_NAME: optionalString,
  TEMPORAL_TLS: z.preprocess(emptyToUndefined, z.enum(['true', 'false']).optional()),
  PORTAL_SECRET_KEY: optionalString,
  PORTAL_CONNECTOR_RATE_LIMIT_SCOPE: z.preprocess(emptyToUndefined, z.enum(['kind', 'instance']).default('kind')),
  PORTAL_HR_BURST_HOLD_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(300).default(30)),
  LOG_LEVEL: z.preprocess(emptyToUndefined, z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info')),
});

/** Where Temporal is: a cluster named by the environment, or the local dev server that `npm start` runs. */
export interface TemporalSettings {
  /** null: no cluster configured, so the dev server from temporal-dev.yaml is used. */
  address: string | null;
  namespace: string;
  apiKey: string | null;
  tls: { certPath: string | null; keyPath: string | null; caPath: string | null; serverName: string | null } | null;
}

/** Portal's configuration, parsed once at start-up from the environment. */
/** See PortalConfig.connectorRateLimitScope. */
export type RateLimitScope = 'kind' | 'instance';

export interface PortalConfig {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | null;
  temporal: TemporalSettings;
  /** Base64 32-byte key for secrets at rest; null: a local key under dataDir (see workers/secrets.ts). */
  secretKey: string | null;
  /**
   * What a vendor's documented rate limits: every instance of the connector kind together (`kind`, the
   * default; one tenant, or a server without fairness), or each instance on its own (`instance`; needs
   * task-queue fairness on the server, see docs/operations.md).
   */
  connectorRateLimitScope: RateLimitScope;
  /** The longest the API holds HR events during a burst of webhook deliveries (0: never; api/hr-dispatch.ts). */
  hrBurstHoldSeconds: number;
  logLevel: string;
}

/** Parses the environment into a frozen config; a bad value stops start-up with every problem named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<PortalConfig> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`Invalid configuration:\n${problems}`);
  }
  const e = parsed.data;
  if (Boolean(e.TEMPORAL_TLS_CERT_PATH) !== Boolean(e.TEMPORAL_TLS_KEY_PATH)) {
    throw new Error('Invalid configuration:\n  TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together');
  }
  const wantsTls = e.TEMPORAL_TLS === 'true' || Boolean(e.TEMPORAL_TLS_CERT_PATH || e.TEMPORAL_TLS_CA_PATH || e.TEMPORAL_API_KEY);
  const config: PortalConfig = {
    host: e.PORTAL_HOST,
    port: e.PORTAL_PORT,
    dataDir: resolve(e.PORTAL_DATA_DIR),
    databaseUrl: e.DATABASE_URL ?? null,
    temporal: {
      address: e.TEMPORAL_ADDRESS ?? null,
      namespace: e.TEMPORAL_NAMESPACE,
      apiKey: e.TEMPORAL_API_KEY ?? null,
      tls: wantsTls && e.TEMPORAL_TLS !== 'false'
        ? {
          certPath: e.TEMPORAL_TLS_CERT_PATH ?? null,
          keyPath: e.TEMPORAL_TLS_KEY_PATH ?? null,
          caPath: e.TEMPORAL_TLS_CA_PATH ?? null,
          serverName: e.TEMPORAL_TLS_SERVER_NAME ?? null,
        }
        : null,
    },
    secretKey: e.PORTAL_SECRET_KEY ?? null,
    connectorRateLimitScope: e.PORTAL_CONNECTOR_RATE_LIMIT_SCOPE,
    hrBurstHoldSeconds: e.PORTAL_HR_BURST_HOLD_SECONDS,
    logLevel: e.LOG_LEVEL,
  };
  return Object.freeze({ ...config, temporal: Object.freeze(config.temporal) });
}
