// The web app in a real browser (Debian's chromium through playwright-core): the seed-000 page, inline parse
// errors, step registers and keyboard stepping, the two-profile view of seed 004, conformance reports, sharing
// through the URL, `lapis view` and `lapis run --html`, and the page's script budget. Every wait is for a DOM state.
import { afterAll, beforeAll, describe, expect, it as vitestIt } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import type { Server } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '../../src/cli/view.js';
import { avicRingLitmus } from '../../src/scenarios/avicRing.js';
import { explain, parseExplanations } from '../../src/backends/explain.js';
import { PATIENCE, buildWeb, close, launch, scriptSizes } from './browser.js';
import { lapisWith } from '../helpers/lapis.js';
import { replay, run, witness } from '../../web/src/engine.js';
import { load } from '../../web/src/front.js';
import { profileData } from '../../web/src/profiles.js';
import type { Call, Request, Response } from '../../web/src/protocol.js';
import type { RunAnswer } from '../../web/src/types.js';

/** A browser test: bounded by PATIENCE per wait, not by the unit tests' 30 s. */
const it = (name: string, fn: () => Promise<void> | void): void => void vitestIt(name, fn, PATIENCE * 3);

const SEED0 = 'litmus/seed-000-sipi-during-smm.litmus';
const SEED4 = 'litmus/seed-004-stale-irr-after-soft-disable.litmus';

let dir: string, ctx: BrowserContext, server: Server, base: string;
const scratch = mkdtempSync(join(tmpdir(), 'lapis-web-test-'));

beforeAll(async () => {
  dir = await buildWeb();
  ctx = await launch();
  ({ server, url: base } = await serve(dir, null));
}, PATIENCE * 2);

afterAll(async () => {
  if (ctx) await close(ctx);
  server?.closeAllConnections();
  await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
  for (const d of [dir, scratch]) if (d) rmSync(d, { recursive: true, force: true });
});

async function open(url: string): Promise<Page> {
  const page = await ctx.newPage();
  page.setDefaultTimeout(PATIENCE);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  (page as Page & { errors: string[] }).errors = errors;
  await page.goto(url);
  return page;
}

const pageErrors = (p: Page): string[] => (p as Page & { errors: string[] }).errors;

const lapis = (args: string[], env: Record<string, string> = {}) => lapisWith({ env: { LAPIS_WEB_DIR: dir, ...env } }, ...args);

describe('the page', () => {
  it('opens with seed 000 answered: the wait-for-SIPI outcome, and a diagram with lanes for P0, P1 and the SMI agent', async () => {
    const page = await open(base);
    await page.waitForSelector('#answer[data-state="done"]');
    expect(await page.locator('#test-select').inputValue()).toBe('seed-000-sipi-during-smm');
    expect(await page.locator('#answer .badge').textContent()).toBe('Ok');
    expect(await page.locator('#answer .observation').getAttribute('data-observation')).toBe('Sometimes');
    const satisfying = page.locator('#answer tr.outcome.satisfies');
    expect(await satisfying.count()).toBe(1);
    expect(await satisfying.textContent()).toContain('wait-for-sipi');
    expect(await satisfying.getAttribute('class')).toContain('selected');
    await page.waitForSelector('#diagram[data-state="ready"]');
    const lanes = await page.locator('#diagram svg g.lane').evaluateAll((ls) => ls.map((l) => l.getAttribute('data-lane')));
    expect(lanes).toEqual(['P0', 'P1', 'D0']);
    expect(await page.locator('#diagram g.lane[data-lane="D0"] .lane-label').textContent()).toBe('D0 (agent)');
    // INIT from P0 latched at P1 (in SMM); the two SIPIs discarded; the SMI from D0.
    expect(await page.locator('#diagram g.message[data-from="P0"][data-to="P1"][data-fate="latched"]').count()).toBe(1);
    expect(await page.locator('#diagram g.message[data-from="P0"][data-to="P1"][data-fate="discarded"]').count()).toBe(2);
    expect(await page.locator('#diagram g.message[data-from="D0"][data-to="P1"]').count()).toBe(1);
    expect(await page.locator('#diagram .band.state-smm').count()).toBeGreaterThan(0);
    expect(await page.locator('#diagram .band.state-wait-for-sipi').count()).toBe(1);
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });

  it('a clicked step shows every CPU\'s registers after it; the arrow keys step through the run', async () => {
    const page = await open(base);
    await page.waitForSelector('#diagram[data-state="ready"]');
    const latched = page.locator('#diagram g.mark-latched');
    const step = Number(await latched.first().getAttribute('data-step'));
    await page.locator(`#diagram g.step[data-step="${step}"]`).click();
    await page.waitForSelector('#registers table.registers');
    expect(await page.locator('#registers .reg-step').textContent()).toMatch(new RegExp(`^Step ${step + 1} of \\d+$`));
    expect(await page.locator('#registers .reg-what').textContent()).toBe('bus: init from P0 arrives at P1');
    const held = page.locator('#registers tr', { hasText: 'held' });
    expect(await held.locator('td').allTextContents()).toEqual(['—', 'init (in SMM)']);
    expect(await held.locator('td.changed').count()).toBe(1);
    await page.keyboard.press('ArrowDown');
    await page.waitForSelector(`#registers .reg-step:text("Step ${step + 2} of")`);
    await page.keyboard.press('Home');
    await page.waitForSelector('#registers .reg-step:text("Step 1 of")');
    expect(await page.locator('#diagram g.step[data-step="0"] rect.selected').count()).toBe(1);
    await page.close();
  });

  it('an edit shows the parse error inline at its line, and Run waits until the test parses', async () => {
    const text = readFileSync(SEED0, 'utf8');
    const line = text.split('\n').findIndex((l) => l.includes('send sipi 0x10 -> P1')) + 1;
    const page = await open(base);
    await page.waitForSelector('#answer[data-state="done"]');
    await page.locator('#editor .cm-content').click();
    await page.keyboard.press('Control+Home');
    for (let i = 1; i < line; i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('End');
    await page.keyboard.type(' -> P7');
    const problem = page.locator('#problems li').first();
    await problem.waitFor();
    expect(await problem.getAttribute('data-line')).toBe(String(line));
    expect(await problem.textContent()).toMatch(new RegExp(`^line ${line}:\\d+: `));
    await page.waitForSelector('#editor .cm-lintRange-error');
    expect(await page.locator('#run').isDisabled()).toBe(true);
    expect(await page.locator('#test-select').inputValue()).toBe('');
    for (let i = 0; i < ' -> P7'.length; i++) await page.keyboard.press('Backspace');
    await page.waitForSelector('#problems:empty', { state: 'attached' });
    expect(await page.locator('#run').isDisabled()).toBe(false);
    await page.close();
  });

  it('Stop ends an exploration that would run for long', async () => {
    const page = await open(base);
    await page.waitForSelector('#answer[data-state="done"]');
    const text = avicRingLitmus(8);
    await page.locator('#editor .cm-content').click();
    await page.keyboard.press('Control+a');
    await page.keyboard.insertText(text);
    await page.waitForSelector('#problems:empty', { state: 'attached' });
    await page.waitForSelector('#run:enabled');
    await page.locator('#run').click();
    await page.waitForSelector('#progress:text-matches("[0-9,]+ states")');
    await page.locator('#stop').click();
    await page.waitForSelector('#answer[data-state="stopped"]');
    expect(await page.locator('#progress').textContent()).toBe('stopped');
    // The engine works again after a stop.
    await page.locator('#test-select').selectOption('seed-000-sipi-during-smm');
    await page.waitForSelector('#answer[data-state="done"]');
    await page.close();
  });
});

describe('two profiles', () => {
  it('seed 004 under spec and kvm-2019: the differing outcome, and the step where the runs part', async () => {
    const page = await open(`${base}#test=seed-004-stale-irr-after-soft-disable&tab=compare&a=spec&b=kvm-2019`);
    await page.waitForSelector('#compare[data-state="shown"]');
    expect(await page.locator('#view-compare').isVisible()).toBe(true);
    const stale = page.locator('#compare tr.outcome', { hasText: 'only under kvm-2019' });
    expect(await stale.count()).toBe(1);
    expect(await stale.getAttribute('data-key')).toContain('P0.irr(0xec)=1');
    expect(await stale.getAttribute('class')).toContain('differs');
    expect(await page.locator('#compare tr.outcome.differs', { hasText: 'only under spec' }).count()).toBe(1);
    const parting = page.locator('#parting');
    expect(await parting.textContent()).toMatch(/^The runs part at step \d+/);
    const at = Number(await parting.getAttribute('data-step'));
    for (const side of ['a', 'b']) {
      expect(await page.locator(`#compare-diagram-${side} svg text.flag-label`).count()).toBe(1);
      expect(await page.locator(`#compare-diagram-${side} g.step`).count()).toBeGreaterThanOrEqual(at);
    }
    // Under spec the same steps take the held interrupt (the spurious vector); under kvm-2019 nothing is taken.
    expect(await page.locator('#compare-diagram-a g.mark-taken').count()).toBeGreaterThan(0);
    expect(await page.locator('#compare-diagram-b g.mark-taken').count()).toBe(0);
    await page.close();
  });
});

describe('conformance reports', () => {
  it('a report opens as histograms per test, FORBIDDEN outcomes marked with their explanation', async () => {
    const report = JSON.parse(readFileSync('conformance/results/qemu-tcg.json', 'utf8'));
    const all = parseExplanations(readFileSync('conformance/explanations.json', 'utf8'), 'explanations.json');
    const cases = report.tests.flatMap((t: { file: string; outcomes: { key: string; verdict: string }[] }) => t.outcomes
      .filter((o) => o.verdict === 'FORBIDDEN').map((o) => ({ test: t.file.replace(/\.litmus$/, ''), key: o.key, ids: explain(all, t.file.replace(/\.litmus$/, ''), 'qemu-tcg', o.key).map((e) => e.id) })));
    const one = cases.find((c: { ids: string[] }) => c.ids.length > 0);
    expect(one).toBeDefined();
    const page = await open(`${base}#tab=reports`);
    await page.waitForSelector('#report[data-state="done"]');
    await page.locator('#report-list button[data-report="qemu-tcg"]').click();
    await page.waitForSelector('#report-list button.active[data-report="qemu-tcg"]');
    const card = page.locator(`section.report-test[data-test="${one.test}"]`);
    const bar = card.locator('.bar-row[data-verdict="FORBIDDEN"]', { hasText: one.key });
    expect(await bar.count()).toBe(1);
    expect(await bar.locator('.forbidden-tag').textContent()).toMatch(/^FORBIDDEN/);
    for (const id of one.ids) expect(await card.locator(`details.explanation[data-id="${id}"] summary`).textContent()).toMatch(new RegExp(`^${id}: `));
    await page.locator('#report-forbidden').check();
    await page.waitForSelector('#report section.report-test:not(.forbidden)', { state: 'detached' });
    expect(await page.locator('#report section.report-test.forbidden').count()).toBe(new Set(cases.map((c: { test: string }) => c.test)).size);

    // A file the user opens: a report of their own, and one that is not a report.
    const mine = join(scratch, 'mine.json');
    writeFileSync(mine, JSON.stringify({ ...report, backend: { ...report.backend, name: 'mine' }, tests: report.tests.slice(0, 3) }));
    await page.locator('#report-forbidden').uncheck();
    await page.locator('#report-file').setInputFiles(mine);
    await page.waitForSelector('#report h3:text("mine:")');
    writeFileSync(join(scratch, 'bad.json'), '{"schema": "other"}');
    await page.locator('#report-file').setInputFiles(join(scratch, 'bad.json'));
    await page.waitForSelector('#report[data-state="error"]');
    expect(await page.locator('#report pre.error').textContent()).toMatch(/bad\.json: not a lapis suite report/);
    await page.close();
  });
});

describe('sharing and the catalog', () => {
  it('Share puts an edited test in the URL, and the URL opens it; a catalog test is shared by name', async () => {
    const page = await open(base);
    await page.waitForSelector('#answer[data-state="done"]');
    await page.locator('#share').click();
    await page.waitForFunction('location.hash.includes("test=")');
    expect(new URL(page.url()).hash).toBe('#test=seed-000-sipi-during-smm&profile=spec');
    await page.locator('#editor .cm-content').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('# shared from the test\n');
    await page.locator('#profile-select').selectOption('kvm-2019');
    await page.waitForSelector('#answer[data-state="done"]');
    await page.locator('#share').click();
    await page.waitForFunction('location.hash.includes("code=")');
    const url = page.url();
    expect(url).toContain('profile=kvm-2019');
    const other = await open(url);
    await other.waitForSelector('#answer[data-state="done"]');
    expect(await other.locator('#profile-select').inputValue()).toBe('kvm-2019');
    // The editor draws only the lines in view: go to the end.
    await other.locator('#editor .cm-content').click();
    await other.keyboard.press('Control+End');
    await other.waitForSelector('#editor .cm-line:has-text("# shared from the test")');
    expect(await other.locator('#answer .facts').textContent()).toContain('profile kvm-2019');
    await other.close();
    await page.close();
  });

  it('the catalog lists every bundled test; a row loads and runs it', async () => {
    const page = await open(`${base}#tab=catalog`);
    await page.waitForSelector('#answer[data-state="done"]', { state: 'attached' });
    const n = readdirSync('litmus').filter((f) => f.endsWith('.litmus')).length;
    expect(await page.locator('#catalog tr').count()).toBe(n);
    await page.locator('#catalog-filter').fill('seed-004-stale-irr');
    expect(await page.locator('#catalog tr').count()).toBe(1);
    await page.locator('#catalog tr[data-test="seed-004-stale-irr-after-soft-disable"]').click();
    await page.waitForSelector('#view-run:not([hidden])');
    await page.waitForSelector('#answer[data-state="done"] .condition:text("forall (P0.irr(0xec) = 0)")');
    await page.close();
  });
});

describe('lapis view and lapis run --html', () => {
  async function view(file: string): Promise<{ url: string; stop: () => Promise<number | null> }> {
    const child = spawn(process.execPath, ['dist/cli/main.js', 'view', file], { env: { ...process.env, LAPIS_WEB_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await new Promise<string>((ok, fail) => {
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /^lapis view: (\S+)$/m.exec(out);
        if (m) ok(m[1]);
      });
      child.on('exit', (code) => fail(new Error(`lapis view exited ${code}: ${out}`)));
    });
    const stop = (): Promise<number | null> => new Promise((ok) => {
      child.removeAllListeners('exit');
      child.on('exit', (code) => ok(code));
      child.kill('SIGTERM');
    });
    return { url, stop };
  }

  it('lapis view FILE serves the page on 127.0.0.1 and opens the test in it', async () => {
    const v = await view(SEED4);
    expect(v.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#open$/);
    const page = await open(v.url);
    await page.waitForSelector('#answer[data-state="done"]');
    expect(await page.locator('#test-select').inputValue()).toBe('seed-004-stale-irr-after-soft-disable');
    await page.close();
    expect(await v.stop()).toBe(0);
  });

  it('lapis view TRACE.json draws the runs of a trace file from their records, exactly', async () => {
    const r = lapis(['run', SEED0, '--json', '--trace-json']);
    expect(r.code).toBe(0);
    const file = join(scratch, 'trace.json');
    writeFileSync(file, r.out);
    const v = await view(file);
    const page = await open(v.url);
    await page.waitForSelector('#diagram[data-state="ready"]');
    expect(await page.locator('#diagram svg g.lane').evaluateAll((ls) => ls.map((l) => l.getAttribute('data-lane')))).toEqual(['P0', 'P1', 'D0']);
    expect(await page.locator('#diagram g.message[data-fate="discarded"]').count()).toBe(2);
    expect(await page.locator('#diagram-head').textContent()).not.toContain('inferred from the trace lines');
    await page.close();
    expect(await v.stop()).toBe(0);
  });

  it('lapis run --html writes one self-contained page: the answer and diagrams from a file, with no server', async () => {
    const out = join(scratch, 'seed-000.html');
    const r = lapis(['run', SEED0, '--html', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Ok$/m);
    const html = readFileSync(out, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet/);
    expect(html).toContain('id="lapis-page-data"');
    const page = await open(pathToFileURL(resolve(out)).href);
    await page.waitForSelector('#diagram[data-state="ready"]');
    expect(await page.title()).toBe('SIPI-during-SMM · lapis');
    expect(await page.locator('#answer tr.outcome.satisfies').textContent()).toContain('wait-for-sipi');
    expect(await page.locator('#diagram svg g.lane').count()).toBe(3);
    // Its own engine runs the test again, offline.
    await page.locator('#profile-select').selectOption('kvm-2015');
    await page.waitForSelector('#answer[data-state="done"] .facts:text("profile kvm-2015")');
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });

  it('without a built web app, view and --html say how to build it; everything else works', () => {
    const env = { LAPIS_WEB_DIR: join(scratch, 'none') };
    for (const args of [['view'], ['run', SEED0, '--html', join(scratch, 'x.html')]]) {
      const r = lapis(args, env);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/the web app is not built .*run `npm run web:build` first/);
    }
    expect(lapis(['run', SEED0], env).code).toBe(0);
    const missing = lapis(['view', join(scratch, 'no-such.json')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read/);
  });
});

describe('the page\'s scripts', () => {
  it('stay within budget: under 400 kB gzipped in all, the model and explorer (the worker) under 60 kB (docs/web.md)', () => {
    const sizes = scriptSizes(dir);
    const worker = sizes.filter((s) => s.file.startsWith('worker-'));
    expect(worker).toHaveLength(1);
    expect(sizes).toHaveLength(2);
    const total = sizes.reduce((n, s) => n + s.gzip, 0);
    console.log(`web scripts (gzip -9): ${sizes.map((s) => `${s.file.replace(/-[\w-]+\.js$/, '')} ${(s.gzip / 1024).toFixed(1)} kB`).join(', ')}; total ${(total / 1024).toFixed(1)} kB`);
    expect(worker[0].gzip).toBeLessThan(60 * 1024);
    expect(total).toBeLessThan(400 * 1024);
  });

  it('the built worker, its op table without the parts it never calls, answers and replays the catalog as the engine\'s source does', async () => {
    const file = join(dir, 'assets', readdirSync(join(dir, 'assets')).find((f) => f.startsWith('worker-'))!);
    const code = readFileSync(file, 'utf8');
    // No guest compiler (a NASM line of `rsm`'s emit) and no op parser (its message for an unknown op).
    expect(code).not.toContain('lit_smm_exit');
    expect(code).not.toContain('unknown op');
    const g = globalThis as { self?: unknown };
    const posted: Response[] = [];
    const worker = { postMessage: (r: Response) => void posted.push(r), onmessage: null as null | ((ev: { data: Request }) => void) };
    // The worker's global, while it runs here.
    g.self = worker;
    try {
      await import(pathToFileURL(file).href);
      catalogThrough(worker, posted);
    } finally {
      delete g.self;
    }
  });
});

/** Every catalog test under spec through the built worker's onmessage and through the engine's source: the same
 *  answer (or the same error), the same shortest run to the first outcome, the same replay of it. */
function catalogThrough(worker: { onmessage: null | ((ev: { data: Request }) => void) }, posted: Response[]): void {
  let id = 0;
  const built = (req: Call): unknown => {
    posted.length = 0;
    worker.onmessage!({ data: { ...req, id: ++id } as Request });
    const r = posted.find((x) => 'ok' in x)!;
    return r.ok ? r.result : { error: r.error };
  };
  const source = (f: () => unknown): unknown => {
    try {
      return f();
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
  const spec = profileData('spec');
  let replayed = 0;
  for (const f of readdirSync('litmus').filter((x) => x.endsWith('.litmus'))) {
    const test = load(readFileSync(`litmus/${f}`, 'utf8'));
    const a = source(() => run(test, spec, { maxStates: 5_000 })) as RunAnswer;
    expect({ ...(built({ op: 'run', test: structuredClone(test), profile: spec, maxStates: 5_000 }) as object), ms: 0 }, f).toEqual({ ...a, ms: 0 });
    const o = a.outcomes?.[0];
    if (!o) continue;
    const steps = witness(test, spec, o.key, o.witness, 10_000);
    expect(built({ op: 'witness', test: structuredClone(test), profile: spec, key: o.key, fallback: o.witness, budget: 10_000 }), f).toEqual(steps);
    expect(built({ op: 'replay', test: structuredClone(test), profile: spec, steps }), f).toEqual(source(() => replay(test, spec, steps)));
    replayed++;
  }
  expect(replayed).toBeGreaterThan(150);
}
