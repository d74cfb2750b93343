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

/** Whether a configuration value is an address requests go to (an absolute http(s) URL). */
function isEndpoint(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * The configuration fields, holding where a connector sends its calls (and so its credentials), that differ
 * between the stored and the new configuration: every URL-valued field (`authorityHost`, `graphBaseUrl`,
 * `baseUrl`, `apiBaseUrl`, a SCIM endpoint...), compared after the plugin's schema has filled in defaults.
 * A plugin's destination is always a URL field, so a new plugin is covered without declaring anything. A
 * stored configuration that no longer parses counts as having none (every new endpoint is a change).
 */
export function changedEndpointFields(plugin: ConnectorPlugin, stored: unknown, next: unknown): string[] {
  const fields = (config: unknown): Record<string, unknown> => {
    const parsed = plugin.configSchema.safeParse(config);
    return parsed.success && parsed.data && typeof parsed.data === 'object' ? parsed.data as Record<string, unknown> : {};
  };
  const before = fields(stored);
  const after = fields(next);
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => (isEndpoint(before[k]) || isEndpoint(after[k])) && before[k] !== after[k])
    .sort();
}
