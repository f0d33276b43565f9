// Forwards TCP connections on the host's loopback to a Unix socket file, so a browser on this
// machine reaches the quick start's dashboard, which runs inside the private network namespace
// (with Orthanc, which must not be reachable from outside). Unix socket files live in the file
// system, not in a network namespace: the quick start listens on one inside, this bridge outside.
//   node scripts/socket-bridge.mjs 127.0.0.1:3000 demo/dashboard.sock
import net from 'node:net';

const [listen, socketPath] = process.argv.slice(2);
if (!listen || !socketPath) {
  process.stderr.write('usage: socket-bridge.mjs HOST:PORT SOCKET_FILE\n');
  process.exit(2);
}
const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.split(':').pop())];
const server = net.createServer((client) => {
  const upstream = net.connect(socketPath);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
});
server.on('error', (error) => {
  process.stderr.write(`socket-bridge: cannot listen on ${listen}: ${error.message}\n`);
  process.exit(1);
});
server.listen(port, host);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
