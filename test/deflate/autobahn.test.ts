/**
 * Mirrors Autobahn|Testsuite cases 12 (compressed echo of text and binary messages of growing sizes)
 * and 13 (the same under each combination of permessage-deflate parameters), against our server, with
 * our own client and with the `ws` client. Every echoed byte is checked, the negotiated parameters are
 * checked on both ends, and a byte-counting proxy proves that both directions were really compressed.
 * (Window bits 8 of case 13 is replaced by 9: zlib cannot deflate with a 256-byte window and our server
 * declines such offers, which the negotiation tests cover.)
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { DeflateOptions, DeflateParams } from '../../src/protocol/deflate-params.js';
import type { Connection } from '../../src/index.js';
import { openClient, startServer, stopAll, within } from '../helpers/server-harness.js';
import {
  compressibleBinary,
  compressibleText,
  countingProxy,
  parseDeflateHeader,
} from '../helpers/deflate-harness.js';

const proxies: { close(): Promise<void> }[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await stopAll();
});

/** Case 12's sizes, 16 B to 256 KiB, and how many messages of each. */
const SIZES = [16, 64, 256, 1024, 4096, 8192, 16_384, 32_768, 65_536, 131_072, 262_144];
const countFor = (size: number): number => (size <= 16_384 ? 10 : size <= 65_536 ? 2 : 1);

interface Peer {
  send(data: string | Buffer): void;
  /** The next `n` messages received. */
  receive(n: number): Promise<{ data: Buffer; isBinary: boolean }[]>;
  close(): Promise<void>;
}

/** A FIFO of received messages with waiting. */
function inbox(): {
  push(data: Buffer, isBinary: boolean): void;
  take(n: number): Promise<{ data: Buffer; isBinary: boolean }[]>;
} {
  const queue: { data: Buffer; isBinary: boolean }[] = [];
  let waiter: (() => void) | undefined;
  return {
    push(data, isBinary) {
      queue.push({ data, isBinary });
      waiter?.();
    },
    take(n) {
      return within(
        new Promise((resolve) => {
          const check = (): void => {
            if (queue.length < n) return;
            waiter = undefined;
            resolve(queue.splice(0, n));
          };
          waiter = check;
          check();
        }),
        20_000,
        `${n} echoes`,
      );
    },
  };
}

async function ourClient(
  url: string,
  options: DeflateOptions & { threshold?: number },
): Promise<Peer & { params?: DeflateParams }> {
  const box = inbox();
  const client = await openClient(url, {
    perMessageDeflate: options,
    maxMessageSize: 1 << 20,
    message: (_c, data, isBinary) => box.push(data, isBinary),
  });
  return {
    params: client.conn.deflate?.params,
    send: (data) => void client.conn.send(data),
    receive: box.take,
    close: async () => void (await client.close()),
  };
}

async function wsClient(
  url: string,
  options: DeflateOptions & { threshold?: number },
): Promise<Peer & { extensions: string }> {
  const box = inbox();
  const ws = new WebSocket(url, { perMessageDeflate: { ...options }, maxPayload: 1 << 20 });
  sockets.push(ws);
  let extensions = '';
  ws.once('upgrade', (response) => (extensions = String(response.headers['sec-websocket-extensions'] ?? '')));
  ws.on('message', (data: Buffer, isBinary: boolean) => box.push(data, isBinary));
  await within(
    new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    }),
    5000,
    'ws open',
  );
  assert.equal(ws.extensions, 'permessage-deflate', 'ws took the extension');
  return {
    extensions,
    send: (data) => ws.send(data, { binary: typeof data !== 'string' }),
    receive: box.take,
    close: () =>
      within(
        new Promise<void>((resolve) => {
          ws.once('close', (code: number) => {
            assert.equal(code, 1000);
            resolve();
          });
          ws.close(1000);
        }),
        5000,
        'ws close',
      ),
  };
}

/** Case 12: text then binary messages of growing sizes, echoed; returns the payload bytes sent. */
async function echoGrowingSizes(peer: Peer, label: string): Promise<number> {
  let total = 0;
  for (const binary of [false, true])
    for (const size of SIZES) {
      const n = countFor(size);
      const sent: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const seed = size * 31 + i * 7 + (binary ? 1 : 0);
        const data = binary ? compressibleBinary(size, seed) : compressibleText(size, seed);
        sent.push(Buffer.from(data));
        peer.send(data);
        total += size;
      }
      const echoes = await peer.receive(n);
      for (let i = 0; i < n; i++) {
        const what = `${label}: ${binary ? 'binary' : 'text'} ${size} B #${i}`;
        assert.equal(echoes[i].isBinary, binary, what);
        assert.equal(echoes[i].data.length, size, what);
        assert.ok(echoes[i].data.equals(sent[i]), `${what}: every byte`);
      }
    }
  return total;
}

interface Combo {
  /** What the client asks for. */
  client: DeflateOptions;
  /** What the server imposes. */
  server: DeflateOptions;
  expect: DeflateParams;
}

function label(combo: Combo): string {
  const short = (o: DeflateOptions): string =>
    [
      o.serverNoContextTakeover && 'server_no_ctx',
      o.clientNoContextTakeover && 'client_no_ctx',
      o.serverMaxWindowBits && `server_bits=${o.serverMaxWindowBits}`,
      o.clientMaxWindowBits && `client_bits=${o.clientMaxWindowBits}`,
    ]
      .filter(Boolean)
      .join(' ') || 'defaults';
  return `client asks {${short(combo.client)}}, server imposes {${short(combo.server)}}`;
}

const COMBOS: Combo[] = [];
// Case 13: the client's offer varies over both no_context_takeover flags and both windows.
for (const serverNoContextTakeover of [false, true])
  for (const clientNoContextTakeover of [false, true])
    for (const serverMaxWindowBits of [9, 15])
      for (const clientMaxWindowBits of [9, 15])
        COMBOS.push({
          client: {
            serverNoContextTakeover,
            clientNoContextTakeover,
            serverMaxWindowBits,
            clientMaxWindowBits,
          },
          server: {},
          expect: {
            serverNoContextTakeover,
            clientNoContextTakeover,
            serverMaxWindowBits,
            clientMaxWindowBits,
          },
        });
// The same parameters imposed by the server on a default offer.
COMBOS.push(
  {
    client: {},
    server: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 9,
    },
    expect: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 9,
    },
  },
  {
    client: {},
    server: { serverMaxWindowBits: 10, clientMaxWindowBits: 12 },
    expect: {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
    },
  },
  {
    client: { serverMaxWindowBits: 12, clientMaxWindowBits: 11 },
    server: { serverMaxWindowBits: 9, clientMaxWindowBits: 13, clientNoContextTakeover: true },
    expect: {
      serverNoContextTakeover: false,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 11,
    },
  },
);

async function runCase(kind: 'wsbridge' | 'ws', combo: Combo): Promise<void> {
  const h = await startServer({
    perMessageDeflate: { ...combo.server, threshold: 0 },
    maxMessageSize: 1 << 20,
  });
  const proxy = await countingProxy(h.port);
  proxies.push(proxy);
  const options = { ...combo.client, threshold: 0 };
  let peer: Peer;
  if (kind === 'wsbridge') {
    const ours = await ourClient(proxy.url, options);
    assert.deepEqual(ours.params, combo.expect, 'our client: negotiated parameters');
    peer = ours;
  } else {
    const ws = await wsClient(proxy.url, options);
    const params = parseDeflateHeader(ws.extensions);
    assert.equal(
      params.has('server_no_context_takeover'),
      combo.expect.serverNoContextTakeover,
      ws.extensions,
    );
    assert.equal(
      params.has('client_no_context_takeover'),
      combo.expect.clientNoContextTakeover,
      ws.extensions,
    );
    assert.equal(
      Number(params.get('server_max_window_bits') ?? 15),
      combo.expect.serverMaxWindowBits,
      ws.extensions,
    );
    assert.equal(
      Number(params.get('client_max_window_bits') ?? 15),
      combo.expect.clientMaxWindowBits,
      ws.extensions,
    );
    peer = ws;
  }
  const serverConn = (await h.events.next('open')).conn as Connection;
  assert.deepEqual(serverConn.deflate?.params, combo.expect, 'server: negotiated parameters');
  const upBefore = proxy.up;
  const downBefore = proxy.down;
  const total = await echoGrowingSizes(peer, `${kind}, ${label(combo)}`);
  const up = proxy.up - upBefore;
  const down = proxy.down - downBefore;
  // Uncompressed, each direction carries at least `total` bytes; these payloads deflate to ~20–45 %.
  assert.ok(up < total * 0.6, `client → server compressed: ${up} bytes on the wire for ${total}`);
  assert.ok(down < total * 0.6, `server → client compressed: ${down} bytes on the wire for ${total}`);
  await peer.close();
}

describe('Autobahn 12/13 mirror: our client against our server', () => {
  for (const combo of COMBOS) it(label(combo), () => runCase('wsbridge', combo));
});

describe('Autobahn 12/13 mirror: the ws client against our server', () => {
  for (const combo of COMBOS) it(label(combo), () => runCase('ws', combo));
});
