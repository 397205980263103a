/**
 * permessage-deflate against peers nobody here wrote: headless Chromium, the `ws` package (as client
 * against our server, and as server for our client) and Python `websockets` 10.4 (both directions).
 * Each exchange moves large compressible text and binary both ways, checks every byte, checks what was
 * negotiated, and proves with a byte-counting proxy that both directions were compressed on the wire.
 * A missing Chromium or Python skips with a reason, or fails under WSBRIDGE_REQUIRE_PEERS=1.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { Browser } from 'playwright-core';
import type { DeflateOptions } from '../../src/protocol/deflate-params.js';
import { openClient, startServer, stopAll, within, type Harness } from '../helpers/server-harness.js';
import {
  CHROMIUM,
  compressibleBinary,
  compressibleText,
  countingProxy,
  parseDeflateHeader,
  peerMissing,
  pythonWebsocketsMissing,
  runPython,
  type CountingProxy,
  type PythonRun,
} from '../helpers/deflate-harness.js';
import { launchChromium } from '../helpers/peers.js';

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

const proxies: CountingProxy[] = [];
const pythons: PythonRun[] = [];
afterEach(async () => {
  await Promise.all(pythons.splice(0).map((p) => p.kill()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await stopAll();
});

async function proxyTo(port: number): Promise<CountingProxy> {
  const proxy = await countingProxy(port);
  proxies.push(proxy);
  return proxy;
}

/** What our server pushes on request: large, compressible, known to the test. */
const PUSH_TEXT = compressibleText(150_000, 901);
const PUSH_BINARY = compressibleBinary(120_000, 902);

/**
 * Our server: echoes everything, and answers the text "push" with PUSH_TEXT then PUSH_BINARY.
 */
function startOurServer(perMessageDeflate: DeflateOptions & { threshold?: number }): Promise<Harness> {
  return startServer(
    {
      perMessageDeflate,
      maxMessageSize: 16 << 20,
      message: (conn, data, isBinary) => {
        if (!isBinary && data.toString() === 'push') {
          conn.send(PUSH_TEXT);
          conn.send(PUSH_BINARY);
        } else conn.send(data, isBinary);
      },
    },
    { echo: false },
  );
}

function assertCompressedBothWays(proxy: CountingProxy, upPayload: number, downPayload: number): void {
  assert.ok(
    proxy.up < upPayload * 0.6,
    `peer → server compressed: ${proxy.up} bytes on the wire for ${upPayload}`,
  );
  assert.ok(
    proxy.down < downPayload * 0.6,
    `server → peer compressed: ${proxy.down} bytes on the wire for ${downPayload}`,
  );
}

// ------------------------------------------------------------------------------------------------ Chromium

describe('headless Chromium against our server', () => {
  let browser: Browser | undefined;
  let missing: string | undefined;

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      missing = `${CHROMIUM} is not installed`;
      return;
    }
    try {
      browser = await launchChromium();
    } catch (error) {
      missing = `Chromium could not be launched: ${(error as Error).message.split('\n')[0]}`;
    }
  });
  after(async () => {
    await browser?.close();
  });

  const configs: { name: string; server: DeflateOptions & { threshold?: number }; expect: string }[] = [
    { name: 'defaults', server: {}, expect: 'permessage-deflate' },
    {
      name: 'no context takeover both ways, 9-bit windows imposed',
      server: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 9,
      },
      expect:
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9',
    },
  ];

  for (const config of configs)
    it(`negotiates permessage-deflate (${config.name}) and exchanges large text and binary both ways`, async (t) => {
      if (!browser) return peerMissing(t, `Chromium: ${missing}`);
      const h = await startOurServer({ ...config.server, threshold: 0 });
      const proxy = await proxyTo(h.port);
      const page = await browser.newPage();
      try {
        const text = compressibleText(200_000, 77);
        const bin = compressibleBinary(150_000, 78);
        const result = await page.evaluate(
          async ({ url, text, binBase64 }) => {
            const bin = Uint8Array.from(atob(binBase64), (c) => c.charCodeAt(0));
            const ws = new WebSocket(url);
            ws.binaryType = 'arraybuffer';
            const queue: (string | ArrayBuffer)[] = [];
            let wake: (() => void) | undefined;
            ws.onmessage = (event) => {
              queue.push(event.data as string | ArrayBuffer);
              wake?.();
            };
            const next = (): Promise<string | ArrayBuffer> =>
              new Promise((resolve) => {
                const check = (): void => {
                  if (queue.length > 0) resolve(queue.shift()!);
                  else wake = check;
                };
                check();
              });
            await new Promise((resolve, reject) => {
              ws.onopen = resolve;
              ws.onerror = () => reject(new Error('WebSocket error'));
            });
            const sameBytes = (a: ArrayBuffer, b: Uint8Array): boolean => {
              const x = new Uint8Array(a);
              if (x.length !== b.length) return false;
              for (let i = 0; i < x.length; i++) if (x[i] !== b[i]) return false;
              return true;
            };
            const checks: boolean[] = [];
            for (let round = 0; round < 2; round++) {
              ws.send(text);
              ws.send(bin);
              checks.push((await next()) === text);
              checks.push(sameBytes((await next()) as ArrayBuffer, bin));
            }
            ws.send('push');
            const pushedText = (await next()) as string;
            const pushedBinary = new Uint8Array((await next()) as ArrayBuffer);
            let binary = '';
            for (let i = 0; i < pushedBinary.length; i += 8192)
              binary += String.fromCharCode(...pushedBinary.subarray(i, i + 8192));
            const extensions = ws.extensions;
            ws.close(1000);
            await new Promise((resolve) => (ws.onclose = resolve));
            return { extensions, checks, pushedText, pushedBinary: btoa(binary) };
          },
          { url: proxy.url, text, binBase64: bin.toString('base64') },
        );
        assert.match(result.extensions, /permessage-deflate/);
        assert.equal(result.extensions, config.expect);
        assert.deepEqual(
          result.checks,
          [true, true, true, true],
          'every echo matched, byte for byte (in the page)',
        );
        assert.equal(result.pushedText, PUSH_TEXT);
        assert.ok(Buffer.from(result.pushedBinary, 'base64').equals(PUSH_BINARY));
        // What our server received from the browser.
        const received = h.events.all('message').map((e) => e.data);
        assert.equal(received.length, 5);
        for (const i of [0, 2]) assert.equal(received[i].toString(), text);
        for (const i of [1, 3]) assert.ok(received[i].equals(bin));
        const conn = h.events.all('open')[0].conn;
        assert.ok(conn.deflate, 'the server side negotiated deflate');
        assertCompressedBothWays(
          proxy,
          2 * (text.length + bin.length),
          2 * (text.length + bin.length) + 270_000,
        );
      } finally {
        await page.close();
      }
    });
});

// ------------------------------------------------------------------------------------------------------ ws

describe('the ws package', () => {
  it('ws client with compression against our server: both directions, negotiated params checked', async () => {
    const h = await startOurServer({ threshold: 0, serverMaxWindowBits: 12 });
    const proxy = await proxyTo(h.port);
    const ws = new WebSocket(proxy.url, {
      perMessageDeflate: { threshold: 0, clientNoContextTakeover: true, clientMaxWindowBits: 10 },
      maxPayload: 16 << 20,
    });
    let extensions = '';
    ws.once('upgrade', (response) => (extensions = String(response.headers['sec-websocket-extensions'])));
    const received: { data: Buffer; isBinary: boolean }[] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => received.push({ data, isBinary }));
    await within(
      new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)),
      5000,
      'ws open',
    );
    try {
      assert.deepEqual(Object.fromEntries(parseDeflateHeader(extensions)), {
        client_no_context_takeover: true,
        server_max_window_bits: '12',
        client_max_window_bits: '10',
      });
      const text = compressibleText(300_000, 31);
      const bin = compressibleBinary(200_000, 32);
      ws.send(text);
      ws.send(bin);
      ws.send('push');
      const deadline = Date.now() + 10_000;
      while (received.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(received.length, 4);
      assert.equal(received[0].data.toString(), text);
      assert.ok(received[1].isBinary && received[1].data.equals(bin));
      assert.equal(received[2].data.toString(), PUSH_TEXT);
      assert.ok(received[3].data.equals(PUSH_BINARY));
      const serverGot = h.events.all('message').map((e) => e.data);
      assert.equal(serverGot[0].toString(), text);
      assert.ok(serverGot[1].equals(bin));
      assertCompressedBothWays(proxy, text.length + bin.length, text.length + bin.length + 270_000);
    } finally {
      ws.terminate();
    }
  });

  for (const [name, options] of [
    ['defaults', {}],
    [
      'no context takeover, small windows',
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 9,
      },
    ],
  ] as [string, object][])
    it(`our client against a ws server with perMessageDeflate (${name}): both directions`, async () => {
      const wss = new WebSocketServer({
        port: 0,
        host: '127.0.0.1',
        perMessageDeflate: { threshold: 0, ...options },
        maxPayload: 16 << 20,
      });
      await new Promise((resolve) => wss.once('listening', resolve));
      const serverGot: Buffer[] = [];
      let serverExtensions = '';
      wss.on('connection', (socket) => {
        serverExtensions = socket.extensions;
        socket.on('message', (data: Buffer, isBinary: boolean) => {
          serverGot.push(data);
          if (!isBinary && data.toString() === 'push') {
            socket.send(PUSH_TEXT);
            socket.send(PUSH_BINARY);
          } else socket.send(data, { binary: isBinary });
        });
      });
      try {
        const proxy = await proxyTo((wss.address() as AddressInfo).port);
        const client = await openClient(proxy.url, { perMessageDeflate: true, maxMessageSize: 16 << 20 });
        assert.ok(client.conn.deflate, 'compression negotiated with ws');
        assert.equal(serverExtensions, 'permessage-deflate');
        if ('serverNoContextTakeover' in options)
          assert.deepEqual(client.conn.deflate.params, {
            serverNoContextTakeover: true,
            clientNoContextTakeover: true,
            serverMaxWindowBits: 9,
            clientMaxWindowBits: 9,
          });
        const text = compressibleText(300_000, 41);
        const bin = compressibleBinary(200_000, 42);
        client.conn.send(text);
        client.conn.send(bin);
        client.conn.send('push');
        assert.equal(await client.events.nextText(client.conn, 10_000), text);
        assert.ok((await client.events.next('message', client.conn, 10_000)).data.equals(bin));
        assert.equal(await client.events.nextText(client.conn, 10_000), PUSH_TEXT);
        assert.ok((await client.events.next('message', client.conn, 10_000)).data.equals(PUSH_BINARY));
        assert.equal(serverGot[0].toString(), text);
        assert.ok(serverGot[1].equals(bin));
        assertCompressedBothWays(proxy, text.length + bin.length, text.length + bin.length + 270_000);
        assert.deepEqual(await client.close(), { code: 1000, reason: '' });
      } finally {
        for (const socket of wss.clients) socket.terminate();
        await new Promise((resolve) => wss.close(resolve));
      }
    });
});

// -------------------------------------------------------------------------------------------------- Python

const PY_COMMON = `
import asyncio, hashlib, json, sys
import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory

def text_of(size, seed):
    words = ["lorem", "ipsum", "dolor", "sit", "amet", "héllo", "wörld", "日本語", "🚀", "deflate"]
    out, x, total = [], seed, 0
    while total < size:
        x = (x * 75 + 74) % 65537
        out.append(words[x % len(words)])
        total += len(out[-1].encode()) + 1
    return " ".join(out)

def bin_of(size, seed):
    out, x = bytearray(), seed
    while len(out) < size:
        x = (x * 75 + 74) % 65537
        out += bytes([x % 251]) * (1 + x % 40) if x % 3 else bytes([x & 255, (x >> 8) & 255])
    return bytes(out[:size])

def sha(data):
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()

def describe(ws):
    return [repr(e) for e in ws.extensions]
`;

const PY_CLIENT = `${PY_COMMON}
async def main(url, config):
    ext = [ClientPerMessageDeflateFactory(**config)] if config else None
    kwargs = {"extensions": ext} if ext else {}
    async with websockets.connect(url, max_size=2**24, **kwargs) as ws:
        sent, ok = [], []
        for i, size in enumerate([16, 1500, 40000, 300000]):
            for message in (text_of(size, i + 1), bin_of(size, i + 1)):
                await ws.send(message)
                sent.append(sha(message))
                ok.append(await ws.recv() == message)
        # A fragmented compressed message: RSV1 on the first frame only, context across frames.
        parts = [text_of(50000, 90 + k) for k in range(3)]
        await ws.send(parts)
        sent.append(sha("".join(parts)))
        ok.append(await ws.recv() == "".join(parts))
        await ws.send("push")
        pushed_text = await ws.recv()
        pushed_binary = await ws.recv()
        print(json.dumps({"extensions": describe(ws), "response": ws.response_headers.get("Sec-WebSocket-Extensions"),
            "sent": sent, "ok": ok, "pushed": [sha(pushed_text), sha(pushed_binary)]}))

asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
`;

const PY_SERVER = `${PY_COMMON}
async def handler(ws, path=None):
    got = []
    async for message in ws:
        if message == "report":
            await ws.send(json.dumps({"extensions": describe(ws), "got": got}))
        elif message == "push":
            await ws.send(text_of(200000, 7))
            await ws.send(bin_of(150000, 8))
        else:
            got.append(sha(message))
            await ws.send(message)

async def main(config):
    ext = [ServerPerMessageDeflateFactory(**config)] if config else None
    kwargs = {"extensions": ext} if ext else {}
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=2**24, **kwargs) as server:
        print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
        await asyncio.Future()

asyncio.run(main(json.loads(sys.argv[1])))
`;

describe('Python websockets 10.4', () => {
  const missing = pythonWebsocketsMissing();

  /** The Python generators, reproduced to check what crossed. */
  function pyText(size: number, seed: number): string {
    const words = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'héllo', 'wörld', '日本語', '🚀', 'deflate'];
    const out: string[] = [];
    let x = seed;
    let total = 0;
    while (total < size) {
      x = (x * 75 + 74) % 65537;
      const w = words[x % words.length];
      out.push(w);
      total += Buffer.byteLength(w) + 1;
    }
    return out.join(' ');
  }
  function pyBin(size: number, seed: number): Buffer {
    const out: number[] = [];
    let x = seed;
    while (out.length < size) {
      x = (x * 75 + 74) % 65537;
      if (x % 3) for (let k = 0; k < 1 + (x % 40); k++) out.push(x % 251);
      else out.push(x & 255, (x >> 8) & 255);
    }
    return Buffer.from(out.slice(0, size));
  }

  it('the JS reproduction of the Python generators is exact (sanity)', (t) => {
    if (missing) return peerMissing(t, missing);
    const check = runPython(
      `${PY_COMMON}\nprint(json.dumps([sha(text_of(40000, 3)), sha(bin_of(40000, 3))]))`,
    );
    pythons.push(check);
    return check.nextLine().then((line) => {
      assert.deepEqual(line, [sha256(pyText(40000, 3)), sha256(pyBin(40000, 3))]);
    });
  });

  for (const [name, config, expect] of [
    ['its defaults', {}, undefined],
    [
      'no context takeover both ways, 10/9-bit windows',
      {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 9,
      },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
    ],
  ] as [string, object, string | undefined][])
    it(`Python client (${name}) against our server: both directions, fragmented compressed messages`, async (t) => {
      if (missing) return peerMissing(t, missing);
      const h = await startOurServer({ threshold: 0 });
      const proxy = await proxyTo(h.port);
      const py = runPython(PY_CLIENT, [proxy.url, JSON.stringify(config)]);
      pythons.push(py);
      const report = (await py.nextLine(30_000)) as {
        extensions: string[];
        response: string;
        sent: string[];
        ok: boolean[];
        pushed: string[];
      };
      const { code, stderr } = await py.exited();
      assert.equal(code, 0, stderr);
      assert.match(report.response, /^permessage-deflate/);
      if (expect) assert.equal(report.response, expect);
      assert.match(report.extensions.join(), /PerMessageDeflate/);
      assert.deepEqual(report.ok, Array(9).fill(true), 'every echo matched in Python');
      assert.deepEqual(report.pushed, [sha256(PUSH_TEXT), sha256(PUSH_BINARY)]);
      const got = h.events.all('message').map((e) => sha256(e.data));
      assert.deepEqual(got.slice(0, 9), report.sent, 'our server received exactly what Python sent');
      const conn = h.events.all('open')[0].conn;
      assert.ok(conn.deflate);
      const payload = 2 * (16 + 1500 + 40_000 + 300_000) + 150_000;
      assertCompressedBothWays(proxy, payload, payload + 270_000);
    });

  for (const [name, config, params] of [
    ['its defaults', {}, undefined],
    [
      'no context takeover both ways, 11/10-bit windows',
      {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 11,
        client_max_window_bits: 10,
      },
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 11,
        clientMaxWindowBits: 10,
      },
    ],
  ] as [string, object, object | undefined][])
    it(`our client against a Python websockets.serve server (${name}): both directions`, async (t) => {
      if (missing) return peerMissing(t, missing);
      const py = runPython(PY_SERVER, [JSON.stringify(config)]);
      pythons.push(py);
      const { port } = (await py.nextLine(20_000)) as { port: number };
      const proxy = await proxyTo(port);
      const client = await openClient(proxy.url, { perMessageDeflate: true, maxMessageSize: 16 << 20 });
      assert.ok(client.conn.deflate, 'compression negotiated with Python');
      if (params) assert.deepEqual(client.conn.deflate.params, params);
      const sent: Buffer[] = [];
      for (const [i, size] of [16, 2000, 60_000, 400_000].entries()) {
        const text = compressibleText(size, 500 + i);
        const bin = compressibleBinary(size, 600 + i);
        client.conn.send(text);
        client.conn.send(bin);
        sent.push(Buffer.from(text), bin);
        assert.equal(await client.events.nextText(client.conn, 10_000), text);
        const echo = await client.events.next('message', client.conn, 10_000);
        assert.ok(echo.isBinary && echo.data.equals(bin), `binary echo of ${size} bytes`);
      }
      client.conn.send('push');
      assert.equal(await client.events.nextText(client.conn, 10_000), pyText(200_000, 7));
      assert.ok((await client.events.next('message', client.conn, 10_000)).data.equals(pyBin(150_000, 8)));
      client.conn.send('report');
      const report = JSON.parse(await client.events.nextText(client.conn, 10_000)) as {
        extensions: string[];
        got: string[];
      };
      assert.match(report.extensions.join(), /PerMessageDeflate/);
      assert.deepEqual(
        report.got,
        sent.map((s) => sha256(s)),
        'Python received exactly what we sent',
      );
      const payload = 2 * (16 + 2000 + 60_000 + 400_000);
      assertCompressedBothWays(proxy, payload, payload + 350_000);
      assert.deepEqual(await client.close(), { code: 1000, reason: '' });
    });
});
