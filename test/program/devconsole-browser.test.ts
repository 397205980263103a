/**
 * Headless Chromium (playwright-core) on the --devconsole page of a real `wsbridge` in program mode:
 * the page connects to the same URL, a line typed and sent comes back from a line-echo program (cat), and
 * the close code a program's exit status maps to is what the browser's WebSocket reports.
 * Skipped when Chromium is missing, unless WSBRIDGE_REQUIRE_PEERS=1 (then it fails).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launchChromium } from '../helpers/peers.js';
import { startProgramServer, type ProgramServer } from '../helpers/program-harness.js';

const missing = chromiumMissing();
const required = process.env.WSBRIDGE_REQUIRE_PEERS === '1';
if (missing && !required) console.log(`# skipping the dev console browser tests: ${missing}`);

describe('Chromium must be here when WSBRIDGE_REQUIRE_PEERS=1', { skip: !missing || !required }, () => {
  it('is installed', () => assert.fail(`WSBRIDGE_REQUIRE_PEERS=1 but ${missing}`));
});

describe('the --devconsole page in headless Chromium', { skip: missing }, () => {
  let dir: string;
  let server: ProgramServer;
  let browser: Browser;
  let page: Page;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wsb-console-'));
    writeFileSync(join(dir, 'echo.sh'), '#!/bin/sh\nexec cat\n', { mode: 0o755 });
    writeFileSync(join(dir, 'fail.sh'), '#!/bin/sh\necho "failing now"\nexit 7\n', { mode: 0o755 });
    server = await startProgramServer(['--port=0', '--address=127.0.0.1', '--devconsole', `--dir=${dir}`]);
    browser = await launchChromium();
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('connects to the WebSocket at the same URL and echoes what is typed through the program', async () => {
    const response = await page.goto(`http://127.0.0.1:${server.port}/echo.sh?room=1`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'wsbridge dev console');
    assert.equal(await page.inputValue('#url'), `ws://127.0.0.1:${server.port}/echo.sh?room=1`);
    await page.waitForFunction("document.getElementById('status').textContent === 'open'", undefined, {
      timeout: 10_000,
    });
    for (const text of ['hello from Chromium', 'ünïcödé ✓ 🎉']) {
      await page.fill('#message', text);
      await page.click('#send');
      await page.locator('#log li.in', { hasText: `← ${text}` }).waitFor({ timeout: 10_000 });
    }
    const log = await page.locator('#log li').allTextContents();
    assert.ok(log.includes('→ hello from Chromium'), JSON.stringify(log));
    assert.ok(log.includes('← ünïcödé ✓ 🎉'), JSON.stringify(log));
    await page.click('#disconnect');
    await page.locator('#log li.event', { hasText: 'closed: 1000' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.textContent('#status'), 'closed');
  });

  it("shows the program's exit as the browser's close code and reason: 1011 exit status 7", async () => {
    await page.goto(`http://127.0.0.1:${server.port}/fail.sh`);
    await page.locator('#log li.in', { hasText: '← failing now' }).waitFor({ timeout: 10_000 });
    await page
      .locator('#log li.event', { hasText: 'closed: 1011 exit status 7' })
      .waitFor({ timeout: 10_000 });
  });

  it('the page is not an injection point: a hostile path is shown as text only', async () => {
    const hostile = '/%3Cimg%20src=x%20onerror=window.pwned=1%3E';
    await page.goto(`http://127.0.0.1:${server.port}${hostile}`);
    await page.locator('#log li.error', { hasText: 'handshake refused: 404' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate('window.pwned'), undefined);
    assert.equal(await page.locator('#log img').count(), 0);
  });
});
