/**
 * The tcp-bridge scenario's baseline: a WebSocket-to-TCP relay written the way a Node application would
 * write one with `ws` (the ecosystem's standard library): `node dist/bench/ws-tcp-relay.js PEER_PORT`, forked
 * by bench/tcp-bridge.ts with an IPC channel (it reports its port and which native add-ons are loaded, and
 * exits with its parent). Run with WS_NO_BUFFER_UTIL=1 WS_NO_UTF_8_VALIDATE=1 for pure-JS `ws`.
 *
 * Each client gets its own TCP connection to the peer; client messages are written to it as they are, each
 * read from it is sent to the client as one binary message (wsbridge's `--framing=binary`). Client → peer
 * pauses the client while the peer's socket is full; peer → client has no backpressure here (the load
 * generator keeps at most 1 MiB in flight). perMessageDeflate is off, as no client offers it.
 */
import { connect } from 'node:net';
import { WebSocketServer } from 'ws';
import { HOST } from './common.js';

const peerPort = Number(process.argv[2]);
if (!Number.isInteger(peerPort) || peerPort <= 0 || !process.send) {
  console.error('usage (forked by bench/tcp-bridge.js): ws-tcp-relay.js PEER_PORT');
  process.exit(2);
}

process.on('disconnect', () => process.exit(0));
process.on('message', (message: { cmd: string }) => {
  // process.exit (not a signal) so that --cpu-prof writes its profile.
  if (message.cmd === 'exit') setImmediate(() => process.exit(0));
});

// The relay proper.
const wss = new WebSocketServer({ port: 0, host: HOST, perMessageDeflate: false });
wss.on('connection', (ws) => {
  const peer = connect({ host: HOST, port: peerPort, noDelay: true });
  ws.on('message', (data: Buffer) => {
    if (!peer.write(data)) ws.pause();
  });
  peer.on('drain', () => ws.resume());
  peer.on('data', (chunk: Buffer) => ws.send(chunk, { binary: true }));
  ws.on('close', () => peer.destroy());
  peer.on('close', () => ws.close());
  ws.on('error', () => peer.destroy());
  peer.on('error', () => ws.terminate());
});

await new Promise<void>((resolve, reject) => {
  wss.once('listening', resolve);
  wss.once('error', reject);
});
const address = wss.address();
if (!address || typeof address === 'string') throw new Error('no TCP address');
const addons = (process.report.getReport() as { sharedObjects: string[] }).sharedObjects;
process.send({
  type: 'ready',
  port: address.port,
  bufferutil: addons.some((p) => p.includes('bufferutil')),
  utf8Validate: addons.some((p) => p.includes('utf-8-validate')),
});
