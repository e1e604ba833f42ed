// lapis view [FILE]: serve the built web app (dist-web/, `npm run web:build`) on 127.0.0.1 at a free port and print
// its address. With FILE the page opens it: a litmus test (explored in the browser), a trace (`lapis run --json
// --trace-json`), a page's data (lapis-page/1) or a conformance report (lapis-suite/1), handed over as
// /lapis-open.json. Nothing is opened in a browser unless asked (--open).

import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { InvalidArgumentError, type Command } from 'commander';
import { UsageError } from './run.js';

/** The built web app: dist-web/ beside dist/ (LAPIS_WEB_DIR overrides it). */
export function webDir(): string {
  return process.env.LAPIS_WEB_DIR ?? fileURLToPath(new URL('../../dist-web', import.meta.url));
}

/** Throws a UsageError saying how to build the web app when `dir` has none. */
export function checkWebDir(dir: string): void {
  if (!existsSync(join(dir, 'index.html'))) {
    throw new UsageError(`the web app is not built (no ${join(dir, 'index.html')}): run \`npm run web:build\` first`);
  }
}

export interface OpenPayload {
  kind: 'litmus' | 'page' | 'trace' | 'report';
  file: string;
  text?: string;
  data?: unknown;
}

/** What the page is to open, read from FILE; a file of no known kind is a usage error. */
export function openPayload(file: string): OpenPayload {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const name = basename(file);
  if (extname(file) !== '.json') return { kind: 'litmus', file: name, text };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const o = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  if (o.schema === 'lapis-suite/1') return { kind: 'report', file: name, data };
  if (o.schema === 'lapis-page/1') return { kind: 'page', file: name, data };
  if (typeof o.test === 'string' && Array.isArray(o.outcomes) && typeof o.condition === 'string') return { kind: 'trace', file: name, data };
  throw new UsageError(`${file}: not a trace (lapis run --json --trace-json), a page (lapis-page/1) or a suite report (lapis-suite/1)`);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml', '.ico': 'image/x-icon',
};

/** Serve `dir` (and the payload as /lapis-open.json) on 127.0.0.1; port 0 picks a free one. */
export function serve(dir: string, payload: OpenPayload | null, port = 0): Promise<{ url: string; server: Server }> {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (path === '/lapis-open.json') {
      if (!payload) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': TYPES['.json'], 'cache-control': 'no-store' }).end(JSON.stringify(payload));
      return;
    }
    const file = resolve(root, `.${path.endsWith('/') ? `${path}index.html` : path}`);
    if ((file !== root && !file.startsWith(root + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const a = server.address();
      const p = typeof a === 'object' && a ? a.port : port;
      ok({ url: `http://127.0.0.1:${p}/${payload ? '#open' : ''}`, server });
    });
  });
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('--port must be 0..65535');
  return n;
}

export function registerView(program: Command): void {
  program
    .command('view')
    .description('serve the web app (npm run web:build) on 127.0.0.1 and print its address; FILE: a litmus test, a trace (run --json --trace-json), a page (run --html data) or a suite report to open')
    .argument('[file]')
    .option('--port <n>', 'listen on this port (default: a free one)', port, 0)
    .option('--open', 'open the address in a browser (xdg-open)')
    .action(async (file: string | undefined, o: { port: number; open?: boolean }) => {
      const dir = webDir();
      checkWebDir(dir);
      const payload = file !== undefined ? openPayload(file) : null;
      const { url, server } = await serve(dir, payload, o.port);
      console.log(`lapis view: ${url}`);
      console.log(`  serving ${dir}; Ctrl-C stops`);
      if (o.open) {
        spawn('xdg-open', [url], { stdio: 'ignore', detached: true })
          .on('error', (e) => console.error(`lapis view: cannot open a browser (${e.message}); open ${url} yourself`))
          .unref();
      }
      await new Promise<void>((done) => {
        const stop = (): void => {
          server.close(() => done());
          server.closeAllConnections();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
