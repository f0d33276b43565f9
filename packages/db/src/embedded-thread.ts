/**
 * The embedded database's server, run in a worker thread of the owning process (embedded.ts):
 * PGlite and the wire server get an event loop of their own, so a worker busy on the main thread
 * (the networks run synchronously there) never stalls the dashboard's queries.
 * Messages to the parent: {type:'ready', host, port} | {type:'error', message, code?} |
 * {type:'fatal', message} | {type:'stopped'}; from the parent: 'stop'.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { startWireServer, type WireServer } from './wire-server.js';

export interface ServerThreadData {
  readonly dataDir: string;
  readonly password: string;
  readonly port: number;
  readonly idleInTransactionTimeoutMs?: number;
}

const port = parentPort;
if (!port) throw new Error('embedded-thread.js runs only as a worker thread');
const data = workerData as ServerThreadData;
const db = await PGlite.create({ dataDir: data.dataDir });
let server: WireServer | undefined;
try {
  server = await startWireServer({
    db,
    password: data.password,
    host: '127.0.0.1',
    port: data.port,
    // Loopback clients in a process whose main thread runs the networks may take seconds to
    // answer the SCRAM challenge on a loaded machine: be patient with them.
    authenticationTimeoutMs: 60_000,
    ...(data.idleInTransactionTimeoutMs !== undefined
      ? { idleInTransactionTimeoutMs: data.idleInTransactionTimeoutMs }
      : {}),
    onFatal: (error) => port.postMessage({ type: 'fatal', message: error.message }),
  });
  port.postMessage({ type: 'ready', host: server.host, port: server.port });
} catch (error) {
  await db.close();
  const e = error as NodeJS.ErrnoException;
  port.postMessage({ type: 'error', message: e.message, ...(e.code ? { code: e.code } : {}) });
}
port.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  void (async () => {
    await server?.stop();
    await db.close();
    port.postMessage({ type: 'stopped' });
    port.close();
  })();
});
