/**
 * A real browser on the pipe: headless Chromium (playwright-core) opens the CLI's console page at
 * http://127.0.0.1:PORT/ and shows a live stream written into the input FIFO; what is typed on the page
 * comes out of the output FIFO. Skipped when /usr/bin/chromium is missing, unless
 * WSBRIDGE_REQUIRE_PEERS=1 (then it fails).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/peers.js';
import {
  catReader,
  catWriter,
  CHROMIUM,
  missingProgram,
  skipUnless,
  sleep,
  startBridge,
  type Bridge,
  type Proc,
} from '../helpers/pipe-harness.js';

const skip = skipUnless(missingProgram(CHROMIUM));

describe('headless Chromium on the pipe', { skip }, () => {
  let bridge: Bridge | undefined;
  let browser: Browser | undefined;
  let reader: Proc | undefined;
  after(async () => {
    await browser?.close().catch(() => undefined);
    await reader?.kill();
    await bridge?.cleanup();
  });

  it(
    'the console page at / opens its socket and lists a live stream written to the FIFO; typed messages reach the output FIFO',
    { timeout: 60_000 },
    async () => {
      bridge = await startBridge();
      browser = await launchChromium();
      const page = await browser.newPage();
      const response = await page.goto(`http://127.0.0.1:${bridge.port}/`);
      assert.equal(response?.status(), 200);
      await page.waitForFunction("document.getElementById('status').textContent === 'open'", undefined, {
        timeout: 10_000,
      });
      assert.equal(await page.textContent('#status'), 'open');

      // a live stream: one writer kept open, lines written a little apart
      const writer = catWriter(bridge.pipeIn);
      const lines = Array.from({ length: 20 }, (_, i) => `tick ${i + 1} — ü`);
      for (const line of lines) {
        await writer.write(`${line}\n`);
        await sleep(10);
      }
      await writer.end();
      await page.waitForFunction(
        `document.querySelectorAll('#log li.in').length >= ${lines.length}`,
        undefined,
        {
          timeout: 10_000,
        },
      );
      const shown = await page.$$eval('#log li.in', (items) => items.map((li) => li.textContent));
      assert.deepEqual(
        shown,
        lines.map((l) => `← ${l}`),
      );

      // and the other way: typed on the page, out of the output FIFO
      reader = catReader(bridge.pipeOut);
      await page.fill('#message', 'typed in Chromium');
      await page.click('#send');
      await reader.waitStdout((out) => out.includes('typed in Chromium\n'), 10_000, 'output FIFO');
      assert.equal(reader.stdout().toString(), 'typed in Chromium\n');
    },
  );
});
