import { readFileSync } from 'node:fs';
import type { TemporalSettings } from './config';

/** Connection options for a Temporal cluster (address, TLS client certificate, or API key) from config. */
export function temporalConnectionOptions(settings: TemporalSettings, address: string) {
  const tls = settings.tls;
  return {
    address,
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
    ...(tls
      ? {
        tls: {
          ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
          ...(tls.caPath ? { serverRootCACertificate: readFileSync(tls.caPath) } : {}),
          ...(tls.certPath && tls.keyPath
            ? { clientCertPair: { crt: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) } }
            : {}),
        },
      }
      // Said outright: left out, an API key would turn TLS on again (TEMPORAL_TLS=false with an API key).
      : { tls: false }),
  };
}
