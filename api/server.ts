import { createServer, type Server } from 'node:http';
import type { ApiDeps } from './context';
import { createApp } from './app';
import type { HrDispatcher } from './hr-dispatch';

/** How long closing the API waits for HR events already stored to be handed to their lifecycles. */
const HAND_OVER_ON_CLOSE_MS = 10_000;

const dispatchers = new WeakMap<Server, HrDispatcher>();

/** Starts the API on host:port and resolves with the listening server. */
export function listen(deps: ApiDeps, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    // node:http's own listen: Express 5's app.listen hands a bind error to its callback as if listening.
    const server = createServer(createApp(deps));
    const refused = (err: NodeJS.ErrnoException) => {
      deps.hrDispatcher?.stop();
      reject(err.code === 'EADDRINUSE' ? new Error(`Port ${port} on ${host} is taken: stop what listens there or set PORTAL_PORT.`) : err);
    };
    server.once('error', refused);
    server.listen(port, host, () => {
      server.off('error', refused);
      resolve(server);
    });
    if (deps.hrDispatcher) dispatchers.set(server, deps.hrDispatcher);
    server.once('close', () => deps.hrDispatcher?.stop());
  });
}

/**
 * Stops accepting connections, waits for in-flight requests, then for the hand-over of HR events already
 * acknowledged (bounded: what is left stays `received` and any API process's sweeper hands it over), so the
 * caller may close the Temporal client afterwards.
 */
export async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  await dispatchers.get(server)?.shutdown(HAND_OVER_ON_CLOSE_MS);
}
