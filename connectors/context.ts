import { VendorHttp } from './http';
import type { ConnectorContext, ConnectorPlugin } from './types';

export interface ContextOptions {
  /** Kept across calls of the same connector instance (access tokens); a fresh map for a fresh instance. */
  cache?: Map<string, unknown>;
  now?: () => Date;
  timeoutMs?: number;
}

/**
 * A call context for one connector instance: configuration and credentials parsed with the plugin's own
 * schemas (a stored value that no longer parses fails here, before any call), and a recording HTTP client.
 */
export function createConnectorContext(plugin: ConnectorPlugin, config: unknown, credentials: unknown, options: ContextOptions = {}): ConnectorContext {
  const now = options.now ?? (() => new Date());
  return {
    config: plugin.configSchema.parse(config),
    credentials: plugin.credentialsSchema.parse(credentials),
    http: new VendorHttp({
      ...(plugin.requestIdHeaders ? { requestIdHeaders: plugin.requestIdHeaders } : {}),
      ...(plugin.vendorErrorCode ? { vendorErrorCode: (body: unknown) => plugin.vendorErrorCode!(body) } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      now,
    }),
    cache: options.cache ?? new Map(),
    now,
  };
}
