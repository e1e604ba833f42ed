// Helpers for the web app's browser tests: a build of web/ into a temporary directory, Debian's chromium through
// playwright-core (never a downloaded browser), and waits on DOM states only.
import { build } from 'vite';
import { chromium, type BrowserContext } from 'playwright-core';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const CHROMIUM = process.env.LAPIS_CHROMIUM ?? '/usr/bin/chromium';
/** Waits are for DOM states; this only bounds a wait that will never end (a broken page), whatever the load. */
export const PATIENCE = 120_000;

export async function buildWeb(): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'lapis-web-'));
  await build({ configFile: 'web/vite.config.ts', logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });
  return out;
}

const profiles = new WeakMap<BrowserContext, string>();

/** Chromium with a profile in a temporary directory, which `close` removes (2-5 MB each). */
export async function launch(): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: \`npm run setup\` installs Debian's chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'lapis-chromium-'));
  let ctx: BrowserContext;
  try {
    ctx = await launchIn(profile);
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  profiles.set(ctx, profile);
  return ctx;
}

/** Close the browser, then remove its profile (chromium writes to it until the context has closed). */
export async function close(ctx: BrowserContext): Promise<void> {
  await ctx.close();
  const profile = profiles.get(ctx);
  if (profile) rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
}

function launchIn(profile: string): Promise<BrowserContext> {
  // Without the background-networking flags chromium's own connections are refused here and it stalls on them.
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The built page's scripts with their gzipped sizes (level 9, as a server would send them). */
export function scriptSizes(dir: string): { file: string; bytes: number; gzip: number }[] {
  return readdirSync(join(dir, 'assets')).filter((f) => f.endsWith('.js')).map((f) => {
    const b = readFileSync(join(dir, 'assets', f));
    return { file: f, bytes: b.length, gzip: gzipSync(b, { level: 9 }).length };
  });
}
