/**
 * Headless Chromium against one `wsbridge --config` server: the page comes from a static route, and its
 * script opens two bridged endpoints of that same server, a socket route to a TCP line service and a
 * program route (cat), plus a pipe route fed from its FIFO. What the page shows is what came back.
 * Skipped when Chromium is missing, unless WSBRIDGE_REQUIRE_PEERS=1 (then it fails).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launchChromium, startCli, tempDir, type CliServer } from '../helpers/peers.js';
import { lineService, type Peer } from '../socket/harness.js';

const missing = chromiumMissing();
const required = process.env.WSBRIDGE_REQUIRE_PEERS === '1';
if (missing && !required) console.log(`# skipping the route browser test: ${missing}`);

describe(
  'Chromium must be here when WSBRIDGE_REQUIRE_PEERS=1 (routes)',
  { skip: !missing || !required },
  () => {
    it('is installed', () => assert.fail(`WSBRIDGE_REQUIRE_PEERS=1 but ${missing}`));
  },
);

/** The page: connects to its own server's /tcp, /cat and /feed and lists what each sends back. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>routes in a browser</title>
<ul id="log"></ul>
<script>
  const log = (text) => {
    const li = document.createElement('li');
    li.textContent = text;
    document.getElementById('log').append(li);
  };
  const base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  function endpoint(path, send) {
    const ws = new WebSocket(base + path);
    ws.onopen = () => { log(path + ' open'); send(ws); };
    ws.onmessage = (event) => log(path + ' got ' + JSON.stringify(event.data));
    ws.onclose = (event) => log(path + ' closed ' + event.code);
    window.sockets = (window.sockets || []).concat(ws);
  }
  endpoint('/tcp', (ws) => ws.send('hello tcp\\n'));
  endpoint('/cat', (ws) => ws.send('hello cat ✓'));
  endpoint('/feed', () => {});
</script>
`;

describe('a route config in headless Chromium', { skip: missing }, () => {
  let dir: ReturnType<typeof tempDir>;
  let peer: Peer;
  let server: CliServer;
  let browser: Browser;
  let page: Page;
  let pipeIn: string;

  before(async () => {
    dir = tempDir('wsb-routes-browser-');
    peer = await lineService();
    mkdirSync(join(dir.path, 'www'));
    writeFileSync(join(dir.path, 'www', 'index.html'), PAGE);
    pipeIn = join(dir.path, 'in.fifo');
    const config = join(dir.path, 'site.toml');
    writeFileSync(
      config,
      `[server]\nport = 0\naddr = "127.0.0.1"\n\n` +
        `[[route]]\nprefix = "/"\ntype = "static"\nstaticdir = "${dir.path}/www"\n\n` +
        `[[route]]\npath = "/tcp"\ntype = "socket"\npeer = "tcp://127.0.0.1:${peer.port}"\nframing = "newline"\nframing-config = "lf"\n\n` +
        `[[route]]\npath = "/cat"\ntype = "program"\ncommand = "cat"\n\n` +
        `[[route]]\npath = "/feed"\ntype = "pipe"\npipein = "${pipeIn}"\npipeout = "${dir.path}/out.fifo"\n`,
    );
    server = await startCli([`--config=${config}`]);
    browser = await launchChromium();
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    await peer?.close();
    dir?.cleanup();
  });

  it('loads the static page, whose script talks to the socket, program and pipe routes', async () => {
    const response = await page.goto(`http://127.0.0.1:${server.port}/`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'routes in a browser');
    const item = (text: string): Promise<void> =>
      page.locator('#log li', { hasText: text }).first().waitFor({ timeout: 10_000 });
    await item('/tcp got "you said: hello tcp\\n"');
    await item('/cat got "hello cat ✓"');
    await item('/feed open');
    writeFileSync(pipeIn, 'from the application\n');
    await item('/feed got "from the application"');
    const log = await page.locator('#log li').allTextContents();
    assert.ok(!log.some((line) => line.includes('closed')), JSON.stringify(log));
    await page.evaluate('for (const ws of window.sockets) ws.close(1000)');
    for (const path of ['/tcp', '/cat', '/feed']) await item(`${path} closed 1000`);
  });
});
