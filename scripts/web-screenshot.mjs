// The README's picture: the seed-000 diagram, with the registers of the step where INIT arrives and is latched.
// `npm run web:screenshot` builds the CLI and the web app first; Debian's chromium through playwright-core.
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, webDir } from '../dist/cli/view.js';

const out = process.argv[2] ?? 'docs/img/seed-000.png';
const { url, server } = await serve(webDir(), null);
const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'lapis-chromium-')), {
  executablePath: process.env.LAPIS_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1360, height: 900 },
  deviceScaleFactor: 1,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(url);
  await page.waitForSelector('#diagram[data-state="ready"]');
  const step = await page.locator('#diagram g.mark-latched').first().getAttribute('data-step');
  await page.locator(`#diagram g.step[data-step="${step}"]`).click();
  await page.waitForSelector('#registers table.registers');
  mkdirSync(out.replace(/\/[^/]*$/, ''), { recursive: true });
  await page.locator('.diagram-pane').screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await ctx.close();
  server.closeAllConnections();
  server.close();
}
