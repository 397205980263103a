/**
 * The tcp-bridge scenario's TCP peer: `node dist/bench/tcp-echo-peer.js`, forked by bench/tcp-bridge.ts with
 * an IPC channel. It echoes every byte back on the connection it came from (`socket.pipe(socket)`, so with
 * backpressure), reports its port and exits with its parent. In a process of its own so that neither the
 * load generator nor the bridge pays for the echo, and its CPU share can be read apart.
 */
import { createServer, type AddressInfo } from 'node:net';
import { HOST } from './common.js';

if (!process.send) {
  console.error('usage (forked by bench/tcp-bridge.js): tcp-echo-peer.js');
  process.exit(2);
}

process.on('disconnect', () => process.exit(0));
process.on('message', (message: { cmd: string }) => {
  if (message.cmd === 'exit') setImmediate(() => process.exit(0));
});

const server = createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  socket.pipe(socket);
});
server.listen(0, HOST, () => {
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port });
});
