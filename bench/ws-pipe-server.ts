/**
 * `ws` reading the pipe scenario's input FIFO and broadcasting each line to every client, as an
 * application would write it with ws: `node dist/bench/ws-pipe-server.js loop|frame FIFO`, forked by
 * bench/pipe.ts with an IPC channel (it reports its port and exits with its parent).
 *
 * - `loop`: the usual `for (const c of wss.clients) c.send(line)`.
 * - `frame`: one frame built per line with ws's `Sender.frame(...)` (ws 8 returns the header and the
 *   data as a list; they are concatenated once) and written with `c._socket.write(frame)` to each client.
 *
 * The FIFO is read as wsbridge reads it: opened O_RDONLY|O_NONBLOCK and wrapped in a `net.Socket`
 * (epoll-driven reads, no thread pool), opened again when the writer goes away. perMessageDeflate is off.
 */
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import * as wsModule from 'ws';
import { WebSocketServer, WebSocket } from 'ws';
import { HOST } from './common.js';

const mode = process.argv[2];
const path = process.argv[3];
if ((mode !== 'loop' && mode !== 'frame') || !path || !process.send) {
  console.error('usage (forked by bench/pipe.js): ws-pipe-server.js loop|frame FIFO');
  process.exit(2);
}

process.on('disconnect', () => process.exit(0));
process.on('message', (message: { cmd: string }) => {
  // process.exit (not a signal) so that --cpu-prof writes its profile.
  if (message.cmd === 'exit') setImmediate(() => process.exit(0));
});

const wss = new WebSocketServer({ port: 0, host: HOST, perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('error', () => undefined));
await new Promise<void>((resolve, reject) => {
  wss.once('listening', resolve);
  wss.once('error', reject);
});

// `WebSocket.Sender` in CommonJS; ws's ES module wrapper exports it as `Sender` (not in @types/ws).
type Frame = (data: Buffer, options: Record<string, unknown>) => Buffer[];
const frameOf = (wsModule as unknown as { Sender: { frame: Frame } }).Sender.frame;

const broadcast =
  mode === 'loop'
    ? (line: Buffer): void => {
        const text = line.toString();
        for (const c of wss.clients) if (c.readyState === WebSocket.OPEN) c.send(text);
      }
    : (line: Buffer): void => {
        const frame = Buffer.concat(
          frameOf(Buffer.from(line), { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }),
        );
        for (const c of wss.clients)
          if (c.readyState === WebSocket.OPEN) (c as unknown as { _socket: Socket })._socket.write(frame);
      };

let carry: Buffer | undefined;
function onData(chunk: Buffer): void {
  const data = carry ? Buffer.concat([carry, chunk]) : chunk;
  carry = undefined;
  let start = 0;
  for (;;) {
    const end = data.indexOf(0x0a, start);
    if (end === -1) break;
    broadcast(data.subarray(start, end));
    start = end + 1;
  }
  if (start < data.length) carry = Buffer.from(data.subarray(start));
}

function openInput(): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const input = new Socket({ fd, readable: true, writable: false });
  input.on('data', onData);
  input.on('end', () => {
    openInput(); // the writer went away: wait for the next one
    input.destroy();
  });
  input.on('error', (error) => {
    console.error(`ws-pipe-server: input: ${error.message}`);
    process.exit(1);
  });
}
openInput();

const address = wss.address();
if (!address || typeof address === 'string') throw new Error('no TCP address');
process.send({ type: 'ready', port: address.port, pid: process.pid });
