/**
 * Opening-handshake refusals over real sockets. Each bad request gets the right HTTP status on its own
 * socket, which is then closed, and the server keeps serving: a connection opened before the bad one
 * still echoes, and a fresh client still connects.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HandshakeError } from '../../src/index.js';
import { RawClient, rawRequest, upgradeRequest, type RequestOptions } from '../helpers/raw-client.js';
import {
  assertServes,
  openClient,
  sleep,
  startServer,
  stopAll,
  type Harness,
} from '../helpers/server-harness.js';

afterEach(stopAll);

/** Sends `request` on a raw socket; asserts the status and that the server closes the socket. */
async function expectRefusal(h: Harness, request: string | Buffer, status: number) {
  const existing = await h.client('/existing');
  const opened = h.events.all('open').length;
  const response = await rawRequest(h.target, request, { closeWithinMs: 3000 });
  assert.equal(response.status, status, `expected HTTP ${status}, got ${response.status} ${response.body}`);
  assert.equal(response.headers['connection'], 'close');
  assert.ok(response.closed, 'the server closed the refused socket');
  assert.equal(h.events.all('open').length, opened, 'a refused handshake opens no connection');
  assert.equal(h.server.count, opened - h.events.all('close').length);
  await assertServes(h.url, h.clientOptions, existing);
  return response;
}

const upgrade = (options: RequestOptions = {}): string => upgradeRequest(options).head;

describe('bad handshakes get the right status, and only that socket is closed', () => {
  test('non-GET → 400', async () => {
    const failures: number[] = [];
    const h = await startServer({ handshakeFailed: (f) => failures.push(f.status) });
    const res = await expectRefusal(h, upgrade({ method: 'POST' }), 400);
    assert.match(res.body, /GET/);
    assert.deepEqual(failures, [400], 'handshakeFailed reported it');
  });

  test('Sec-WebSocket-Version 12 → 426 with Sec-WebSocket-Version: 13', async () => {
    const h = await startServer();
    const res = await expectRefusal(h, upgrade({ version: '12' }), 426);
    assert.equal(res.headers['sec-websocket-version'], '13');
    const missing = await rawRequest(h.target, upgrade({ version: null }));
    assert.equal(missing.status, 426);
    assert.equal(missing.headers['sec-websocket-version'], '13');
  });

  test('bad Sec-WebSocket-Key → 400', async () => {
    const h = await startServer();
    await expectRefusal(h, upgrade({ key: 'too-short' }), 400);
    await expectRefusal(h, upgrade({ key: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }), 400);
  });

  test('missing Host → 400', async () => {
    const h = await startServer();
    const res = await expectRefusal(h, upgrade({ host: null }), 400);
    assert.match(res.body, /Host/);
  });

  test('origin not allowed → 403; an allowed origin (any case) connects', async () => {
    const h = await startServer(
      { origins: ['https://good.example'] },
      { clientOptions: { origin: 'https://good.example' } },
    );
    await expectRefusal(h, upgrade({ origin: 'https://evil.example' }), 403);
    await expectRefusal(h, upgrade(), 403); // no Origin at all
    const ok = await openClient(h.url, { origin: 'https://GOOD.example' });
    assert.equal(await ok.roundTrip('allowed'), 'allowed');
  });

  test('malformed request line and header → 400', async () => {
    const h = await startServer();
    await expectRefusal(h, 'NOT A REQUEST\r\n\r\n', 400);
    await expectRefusal(
      h,
      'GET / HTTP/1.1\r\nHost: x\r\nbroken header line\r\nUpgrade: websocket\r\n\r\n',
      400,
    );
  });

  test('oversized request head → 431', async () => {
    const h = await startServer({ maxHeaderSize: 1024 });
    // Complete but too large, and never-ending without a blank line: both are refused.
    await expectRefusal(h, upgrade({ headers: { 'X-Pad': 'a'.repeat(2000) } }), 431);
    await expectRefusal(h, `GET / HTTP/1.1\r\nX-Pad: ${'b'.repeat(4000)}`, 431);
    // Just under the limit is fine.
    const fits = await RawClient.open(h.target, { headers: { 'X-Pad': 'c'.repeat(700) } });
    fits.destroy();
  });

  test('slowloris: a head trickling in a byte every 100 ms → 408 and the socket is closed', async () => {
    const h = await startServer({ handshakeTimeout: 300 });
    const existing = await h.client('/existing');
    const raw = await RawClient.connect(h.target);
    const head = Buffer.from(upgrade());
    const started = Date.now();
    try {
      const response = raw.readResponse(3000);
      for (let i = 0; i < head.length && !raw.ended && !raw.closed && i < 30; i++) {
        raw.write(head.subarray(i, i + 1));
        await sleep(100);
        if (raw.pendingLength > 0) break;
      }
      const res = await response;
      assert.equal(res.status, 408);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250, `refused only after the timeout (${elapsed} ms)`);
      await raw.waitEnded(3000);
      await raw.waitClosed(3000);
    } finally {
      raw.destroy();
    }
    await assertServes(h.url, {}, existing);
  });

  test('max connections reached → 503; a slot freed is reusable', async () => {
    const h = await startServer({ maxConnections: 2 });
    const a = await h.client();
    const b = await h.client();
    const res = await rawRequest(h.target, upgrade());
    assert.equal(res.status, 503);
    assert.ok(res.closed);
    await assert.rejects(h.client(), (e: unknown) => e instanceof HandshakeError && e.status === 503);
    assert.equal(await a.roundTrip('a still ok'), 'a still ok');
    await b.close();
    await h.events.next('close');
    const c = await h.client();
    assert.equal(await c.roundTrip('c got the slot'), 'c got the slot');
    assert.equal(h.server.count, 2);
  });

  test('upgrade hook throwing HandshakeError(401) → 401; a plain Error → 500; async hooks work', async () => {
    const h = await startServer({
      async upgrade(info) {
        await sleep(5);
        if (info.query === 'boom') throw new Error('hook crashed');
        // Requests without a token are let through so the healthy-client checks can connect.
        if (info.query.startsWith('token=') && info.query !== 'token=good')
          throw new HandshakeError('who are you', 401, { 'WWW-Authenticate': 'Bearer' });
      },
    });
    const res = await expectRefusal(h, upgrade({ path: '/?token=bad' }), 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assert.match(res.body, /who are you/);
    await expectRefusal(h, upgrade({ path: '/?boom' }), 500);
    const ok = await h.client('/?token=good');
    assert.equal(await ok.roundTrip('authorised'), 'authorised');
    await assert.rejects(
      h.client('/?token=bad'),
      (e: unknown) => e instanceof HandshakeError && e.status === 401,
    );
  });

  test('plain HTTP GET without a request handler → 426', async () => {
    const h = await startServer();
    const res = await expectRefusal(h, 'GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n', 426);
    assert.match(res.headers['upgrade'] ?? '', /websocket/i);
  });

  test('HTTP/1.0 upgrade → 400', async () => {
    const h = await startServer();
    await expectRefusal(h, upgrade().replace('HTTP/1.1', 'HTTP/1.0'), 400);
  });
});
