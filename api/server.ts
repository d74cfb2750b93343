import type { Server } from 'node:http';
import type { ApiDeps } from './context';
import { createApp } from './app';

/** Starts the API on host:port and resolves with the listening server. */
export function listen(deps: ApiDeps, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createApp(deps).listen(port, host, () => resolve(server));
    server.once('close', () => deps.hrDispatcher?.stop());
    server.once('error', reject);
  });
}

/** Stops accepting connections and waits for in-flight requests. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
