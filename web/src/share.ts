// Sharing a test through the URL: a catalog test by name, anything else as its text in the fragment (deflated,
// base64url), with the profile and the view. Nothing leaves the browser: the fragment is never sent to a server.

import { catalogTestOf } from './catalog.js';

export interface Shared {
  test?: string;
  text?: string;
  profile?: string;
  tab?: string;
  a?: string;
  b?: string;
  open?: boolean;
}

function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function pipe(bytes: Uint8Array, stream: GenericTransformStream): Promise<Uint8Array> {
  const out = new Blob([bytes as BlobPart]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

export async function encodeText(text: string): Promise<string> {
  const utf8 = new TextEncoder().encode(text);
  if (typeof CompressionStream === 'undefined') return `t:${toBase64Url(utf8)}`;
  return `z:${toBase64Url(await pipe(utf8, new CompressionStream('deflate-raw')))}`;
}

export async function decodeText(code: string): Promise<string> {
  const [kind, data] = [code.slice(0, 2), code.slice(2)];
  const bytes = fromBase64Url(data);
  const raw = kind === 'z:' ? await pipe(bytes, new DecompressionStream('deflate-raw')) : bytes;
  return new TextDecoder().decode(raw);
}

/** The fragment for a test's text, profile and view. */
export async function shareHash(text: string, profile: string, tab: string, extra: Record<string, string> = {}): Promise<string> {
  const p = new URLSearchParams();
  const entry = catalogTestOf(text);
  if (entry) p.set('test', entry.id);
  else p.set('code', await encodeText(text));
  p.set('profile', profile);
  if (tab !== 'run') p.set('tab', tab);
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return `#${p.toString()}`;
}

export async function readHash(hash: string): Promise<Shared> {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const out: Shared = {};
  if (p.has('open')) out.open = true;
  const test = p.get('test'), code = p.get('code');
  if (test) out.test = test;
  if (code) {
    try {
      out.text = await decodeText(code);
    } catch {
      // A damaged link: fall back to the default test rather than show garbage.
    }
  }
  for (const k of ['profile', 'tab', 'a', 'b'] as const) {
    const v = p.get(k);
    if (v) out[k] = v;
  }
  return out;
}
