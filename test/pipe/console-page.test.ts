/**
 * The console page (GET /) in headless Chromium against a real `wsbridge --echo-mode` (issue #10): it names
 * the mode, echoes with a timestamp on each line, reconnects from its button, asks for no missing favicon,
 * and shows a refused handshake's HTTP status and reason (an --origin mismatch: 403) instead of 1006. The
 * `--devconsole` page is the same design (one stylesheet). A screenshot goes to the test's temp dir.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { CONSOLE_STYLE } from '../../src/modes/common/console-page.js';
import {
  chromiumMissing,
  launchChromium,
  REPO_ROOT,
  startCli,
  tempDir,
  type CliServer,
} from '../helpers/peers.js';
import { startProgramServer } from '../helpers/program-harness.js';

const missing = chromiumMissing();
const required = process.env.WSBRIDGE_REQUIRE_PEERS === '1';

describe('the console page in headless Chromium', { skip: missing && !required ? missing : false }, () => {
  const dir = tempDir('wsb-console-page-');
  const running: CliServer[] = [];
  let browser: Browser;
  let page: Page;
  const failures: string[] = [];

  before(async () => {
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('response', (r) => {
      if (r.status() >= 400) failures.push(`${r.status()} ${r.url()}`);
    });
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    for (const s of running) await s.stop();
    if (process.env.WSBRIDGE_KEEP_TEMP !== '1') dir.cleanup(); // =1 keeps the screenshots to look at
  });
  const start = async (args: string[]): Promise<CliServer> => {
    const server = await startCli(['--echo-mode', '-p', '0', '--addr=127.0.0.1', ...args]);
    running.push(server);
    return server;
  };
  const waitStatus = (text: string): Promise<unknown> =>
    page.waitForFunction(
      `document.getElementById('status').textContent === ${JSON.stringify(text)}`,
      undefined,
      {
        timeout: 10_000,
      },
    );

  it('names the mode, echoes with timestamps, reconnects, and asks for no missing favicon', async () => {
    const server = await start([]);
    const response = await page.goto(`http://127.0.0.1:${server.port}/`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.textContent('#mode'), 'echo mode');
    await waitStatus('open');
    await page.fill('#message', 'hello, page');
    await page.click('#send');
    const echoed = page.locator('#log li.in', { hasText: '← hello, page' });
    await echoed.waitFor({ timeout: 10_000 });
    const time = await echoed.getAttribute('data-time');
    assert.match(time ?? '', /^\d{2}:\d{2}:\d{2}\.\d{3}$/, 'each line carries its time');
    const shown = String(
      await page.evaluate("getComputedStyle(document.querySelector('#log li.in'), '::before').content"),
    );
    assert.ok(shown.includes(time!), `the time is shown on the line: ${shown}`);

    await page.click('#disconnect');
    await page.locator('#log li.event', { hasText: 'closed: 1000' }).waitFor({ timeout: 10_000 });
    await waitStatus('closed');
    await page.click('#connect');
    await waitStatus('open');
    await page.fill('#message', 'after reconnect');
    await page.click('#send');
    await page.locator('#log li.in', { hasText: '← after reconnect' }).waitFor({ timeout: 10_000 });

    const shot = join(dir.path, 'console-page.png');
    await page.screenshot({ path: shot });
    console.log(`screenshot: ${shot}`);
    assert.deepEqual(failures, [], 'no request of the page failed (favicon included)');
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/favicon.ico`)).status, 204);
  });

  it('reconnects by itself with backoff after the server drops the connection', async () => {
    const server = await start(['--max-frame-size=10']);
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await waitStatus('open');
    await page.fill('#message', 'far more than ten bytes');
    await page.click('#send'); // the server closes with 1009
    await page.locator('#log li.event', { hasText: 'closed: 1009' }).waitFor({ timeout: 10_000 });
    await page.locator('#log li.event', { hasText: 'reconnecting in 1 s' }).waitFor({ timeout: 10_000 });
    await waitStatus('open');
  });

  it("shows a refused handshake's HTTP status and reason, not 1006", async () => {
    const server = await start(['--origin=http://good.example']);
    await page.goto(`http://127.0.0.1:${server.port}/`);
    await page
      .locator('#log li.error', { hasText: 'handshake refused: 403 origin not allowed' })
      .waitFor({ timeout: 10_000 });
    await waitStatus('refused');
    assert.equal(await page.locator('#log li', { hasText: '1006' }).count(), 0);
    const shot = join(dir.path, 'refused.png');
    await page.screenshot({ path: shot });
    console.log(`screenshot: ${shot}`);
  });

  it('the --devconsole page is the same design: one stylesheet and markup', async () => {
    const program = await startProgramServer(['--port=0', '--address=127.0.0.1', '--devconsole', 'cat']);
    try {
      const devconsole = await (await fetch(`http://127.0.0.1:${program.port}/`)).text();
      const server = await start([]);
      const consolePage = await (await fetch(`http://127.0.0.1:${server.port}/`)).text();
      for (const html of [devconsole, consolePage]) {
        assert.ok(html.includes(CONSOLE_STYLE), 'the shared stylesheet');
        assert.ok(html.includes('<link rel="icon" href="data:,">'));
      }
      assert.match(devconsole, /<span id="mode">program mode: cat<\/span>/);
    } finally {
      await program.stop();
    }
  });
});

it('the routes example page counts its endpoints right', () => {
  const example = join(REPO_ROOT, 'examples', 'routes');
  const routes = readFileSync(join(example, 'wsbridge.toml'), 'utf8').match(/^\[\[route\]\]$/gm)!.length;
  const heading = /<h1>One server, (\w+) endpoints/.exec(
    readFileSync(join(example, 'public', 'index.html'), 'utf8'),
  );
  const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six'];
  assert.equal(heading?.[1], words[routes]);
});
