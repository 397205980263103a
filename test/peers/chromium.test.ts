/**
 * Headless Chromium (the browser's own WebSocket, driven by playwright-core) against the real
 * `wsbridge --echo-mode` binary: the console page served at GET /, and raw `new WebSocket()` calls.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { createServer } from '../../src/index.js';
import { chromiumMissing, launchChromium, startCli, type CliServer } from '../helpers/peers.js';

const missing = chromiumMissing();
if (missing) console.log(`# skipping Chromium tests: ${missing}`);

describe('headless Chromium against the wsbridge CLI', { skip: missing }, () => {
  let cli: CliServer;
  let browser: Browser;
  let page: Page;
  let base = '';

  before(async () => {
    cli = await startCli(['--echo-mode', '-p', '0', '--log-level=debug']);
    base = `http://127.0.0.1:${cli.port}`;
    browser = await launchChromium();
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    await cli?.stop();
  });

  it('loads the console page at / and its socket opens', async () => {
    const response = await page.goto(`${base}/`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'wsbridge echo');
    await page.waitForFunction("document.getElementById('status').textContent === 'open'", undefined, {
      timeout: 10_000,
    });
    assert.equal(await page.textContent('#status'), 'open');
    const lines = await page.locator('#log li').allTextContents();
    assert.deepEqual(lines.slice(0, 2), [`connecting to ws://127.0.0.1:${cli.port}/`, 'open']);
  });

  it('typing a message and clicking Send shows the echo in the log', async () => {
    const text = 'hello from Chromium — ünïcödé 🎉';
    await page.fill('#message', text);
    await page.click('#send');
    await page.locator('#log li.in', { hasText: `← ${text}` }).waitFor({ timeout: 10_000 });
    const log = await page.locator('#log li').allTextContents();
    assert.ok(log.includes(`→ ${text}`), JSON.stringify(log));
    assert.ok(log.includes(`← ${text}`), JSON.stringify(log));
    assert.equal(await page.inputValue('#message'), '');
  });

  it('Send as binary shows the binary echo with its bytes', async () => {
    await page.fill('#message', 'hi✓');
    await page.click('#send-binary');
    // 'hi✓' in UTF-8: 68 69 e2 9c 93
    const expected = '← binary, 5 bytes: 68 69 e2 9c 93';
    await page.locator('#log li.in', { hasText: expected }).waitFor({ timeout: 10_000 });
    const log = await page.locator('#log li').allTextContents();
    assert.ok(log.includes('→ binary, 5 bytes'), JSON.stringify(log));
    assert.ok(log.includes(expected), JSON.stringify(log));
  });

  it('raw WebSocket from the page: binary ArrayBuffer, 1 MiB string, close 4001 with a reason', async () => {
    const result = await page.evaluate(async (url: string) => {
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      const queue: unknown[] = [];
      const waiters: ((value: unknown) => void)[] = [];
      ws.onmessage = (e) => {
        const waiter = waiters.shift();
        if (waiter) waiter(e.data);
        else queue.push(e.data);
      };
      const next = (): Promise<unknown> =>
        queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiters.push(resolve));
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error('socket error'));
      });
      const out: Record<string, unknown> = { protocol: ws.protocol, extensions: ws.extensions };

      const bytes = new Uint8Array(1000).map((_, i) => (i * 7 + 3) & 0xff);
      ws.send(bytes.buffer);
      const binary = await next();
      out.binaryIsArrayBuffer = binary instanceof ArrayBuffer;
      out.binaryEqual =
        binary instanceof ArrayBuffer &&
        binary.byteLength === bytes.length &&
        new Uint8Array(binary).every((b, i) => b === bytes[i]);

      const big = 'ab€'.repeat(Math.floor((1024 * 1024) / 5)); // 5 UTF-8 bytes per repeat: just under 1 MiB
      ws.send(big);
      const bigEcho = await next();
      out.bigLength = typeof bigEcho === 'string' ? bigEcho.length : -1;
      out.bigEqual = bigEcho === big;
      out.bigBytes = new TextEncoder().encode(big).length;

      ws.send('');
      out.empty = await next();

      const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
        ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
      });
      ws.close(4001, 'bye from chromium');
      out.close = await closed;
      return out;
    }, `ws://127.0.0.1:${cli.port}/raw`);

    assert.equal(result.protocol, '');
    // Chromium offers permessage-deflate and the CLI accepts it by default: the 1 MiB went compressed.
    assert.match(String(result.extensions), /^permessage-deflate/);
    assert.equal(result.binaryIsArrayBuffer, true);
    assert.equal(result.binaryEqual, true);
    assert.ok((result.bigBytes as number) <= 1024 * 1024 && (result.bigBytes as number) > 1024 * 1024 - 10);
    assert.equal(result.bigEqual, true, `length ${String(result.bigLength)}`);
    assert.equal(result.empty, '');
    // The server answers with the same code; the reason is its own (it echoes only the code).
    assert.deepEqual((result.close as { code: number }).code, 4001);
    assert.equal((result.close as { wasClean: boolean }).wasClean, true);
    // The server saw the browser's code and reason.
    await cli.waitForStderr(/close #\d+ \S+ \S+ 4001 bye from chromium/);
  });

  it('Chromium fails the connection when it offers subprotocols and the CLI (no --protocol) answers none', async () => {
    // Interop note: RFC 6455 lets a server answer without Sec-WebSocket-Protocol, but Chromium (like ws)
    // then fails the connection: a page offering subprotocols needs --protocol.
    const result = await page.evaluate(async (url: string) => {
      const ws = new WebSocket(url, ['chat', 'superchat']);
      return new Promise<{ opened: boolean; code: number }>((resolve) => {
        ws.onopen = () => {
          ws.close();
          resolve({ opened: true, code: 0 });
        };
        ws.onclose = (e) => resolve({ opened: false, code: e.code });
      });
    }, `ws://127.0.0.1:${cli.port}/`);
    assert.deepEqual(result, { opened: false, code: 1006 });
    // Without an offer the same page connects fine.
    const plain = await page.evaluate(async (url: string) => {
      const ws = new WebSocket(url);
      const opened = await new Promise<boolean>((resolve) => {
        ws.onopen = () => resolve(true);
        ws.onclose = () => resolve(false);
      });
      ws.close();
      return opened;
    }, `ws://127.0.0.1:${cli.port}/`);
    assert.equal(plain, true);
  });

  it('--protocol=b,a: Chromium offering [a, b] gets b from the CLI', async () => {
    const chooser = await startCli(['--echo-mode', '-p', '0', '--protocol=b,a']);
    try {
      const protocol = await page.evaluate(async (url: string) => {
        const ws = new WebSocket(url, ['a', 'b']);
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onclose = () => reject(new Error('closed before open'));
        });
        const chosen = ws.protocol;
        ws.close();
        return chosen;
      }, `ws://127.0.0.1:${chooser.port}/`);
      assert.equal(protocol, 'b');
    } finally {
      await chooser.stop();
    }
  });

  it('Chromium gets the server-preferred subprotocol from the library: server [b, a], browser offers [a, b] → b', async () => {
    const server = createServer({
      protocols: ['b', 'a'],
      message: (conn, data, isBinary) => conn.send(data, isBinary),
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (server.address() as AddressInfo).port;
      const result = await page.evaluate(async (url: string) => {
        const ws = new WebSocket(url, ['a', 'b']);
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onclose = () => reject(new Error('closed before open'));
        });
        const echoed = new Promise((resolve) => (ws.onmessage = (e) => resolve(e.data)));
        ws.send('proto?');
        const data = await echoed;
        const protocol = ws.protocol;
        const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
        ws.close(1000);
        return { protocol, data, code: await closed };
      }, `ws://127.0.0.1:${port}/`);
      assert.deepEqual(result, { protocol: 'b', data: 'proto?', code: 1000 });
    } finally {
      await server.close();
    }
  });

  it('a message over --max-frame-size from the browser is closed with 1009', async () => {
    const small = await startCli(['--echo-mode', '-p', '0', '--max-frame-size=1000']);
    try {
      const result = await page.evaluate(async (url: string) => {
        const ws = new WebSocket(url);
        await new Promise((resolve) => (ws.onopen = resolve));
        const closed = new Promise<{ code: number; reason: string }>((resolve) => {
          ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
        });
        ws.send('x'.repeat(2000));
        return closed;
      }, `ws://127.0.0.1:${small.port}/`);
      assert.equal(result.code, 1009);
      assert.match(result.reason, /1000/);
    } finally {
      await small.stop();
    }
  });

  it('GET /other gives a 404 to the browser', async () => {
    const response = await page.goto(`${base}/other`);
    assert.equal(response?.status(), 404);
    assert.match((await page.locator('body').textContent()) ?? '', /not found/);
  });
});
