/**
 * --access-log (gwsocket's): one combined-log-like line per handshake (101), close (200) and refused
 * handshake (its status), from the real CLI in pipe mode.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { connect, startBridge, until, type Bridge } from '../helpers/pipe-harness.js';

describe('pipe mode, --access-log', () => {
  let bridge: Bridge | undefined;
  const logPath = `/tmp/wsbridge-access-${process.pid}-${Date.now()}.log`;
  after(async () => {
    await bridge?.cleanup();
    rmSync(logPath, { force: true });
  });

  it('logs the 101, the close (its close code, 1000) and a refused handshake (403) with path, referer and user agent', async () => {
    bridge = await startBridge([`--access-log=${logPath}`, '--origin=http://good.example']);
    const good = await connect(bridge.url('/feed?x=1'), undefined, {
      origin: 'http://good.example',
      headers: { Referer: 'http://good.example/page', 'User-Agent': 'access-log-test/1.0' },
    });
    good.ws.close(1000);
    await good.closed;
    await assert.rejects(connect(bridge.url('/feed'), undefined, { origin: 'http://evil.example' }));
    const read = (): string => {
      try {
        return readFileSync(logPath, 'utf8');
      } catch {
        return '';
      }
    };
    await until(() => read().split('\n').filter(Boolean).length >= 3, 5_000, 'three access-log lines', read);
    const lines = read().trim().split('\n');
    const line =
      /^(\S+) - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "(\S+) (\S+) HTTP\/1\.1" (\d{3,4}) - "([^"]*)" "([^"]*)" (\d+)$/;
    const parsed = lines.map((l) => {
      const m = line.exec(l);
      assert.ok(m, `not in the access-log format: ${l}`);
      return { ip: m[1], method: m[2], url: m[3], status: Number(m[4]), referer: m[5], agent: m[6] };
    });
    const opened = parsed.find((p) => p.status === 101);
    const closedLine = parsed.find((p) => p.status === 1000);
    const refused = parsed.find((p) => p.status === 403);
    assert.ok(opened && closedLine && refused, lines.join('\n'));
    assert.equal(opened.ip, '127.0.0.1');
    assert.equal(opened.method, 'GET');
    assert.equal(opened.url, '/feed?x=1');
    assert.equal(opened.referer, 'http://good.example/page');
    assert.equal(opened.agent, 'access-log-test/1.0');
    assert.equal(closedLine.url, '/feed?x=1');
    assert.equal(refused.url, '/feed');
  });
});
