// scripts/debian-mirror.sh: the Debian mirror setup.sh fetches bookworm-backports from, read from the machine's own
// apt sources (one-line .list entries and deb822 .sources stanzas) under a temporary root.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_GUARD_MS } from '../helpers/lapis.js';

function mirror(files: Record<string, string>): { code: number; out: string; err: string } {
  const root = mkdtempSync(join(tmpdir(), 'lapis-apt-'));
  try {
    mkdirSync(join(root, 'etc/apt/sources.list.d'), { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'etc/apt', name), text);
    const r = spawnSync('bash', ['scripts/debian-mirror.sh'], { encoding: 'utf8', timeout: CLI_GUARD_MS, env: { ...process.env, LAPIS_APT_ROOT: root } });
    return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr.trim() };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe('debian-mirror.sh', () => {
  it('reads a one-line sources.list, skipping comments, deb-src, options and the security archive', () => {
    const r = mirror({
      'sources.list': [
        '# deb http://commented.example/debian bookworm main',
        'deb-src http://src.example/debian bookworm main',
        'deb http://security.example/debian-security bookworm-security main',
        'deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib',
      ].join('\n'),
    });
    expect(r).toEqual({ code: 0, out: 'http://mirror.example/debian', err: '' });
  });

  it('reads deb822 .sources stanzas: Types, URIs, Suites, Components, Enabled', () => {
    const r = mirror({
      'sources.list.d/debian.sources': [
        'Types: deb', 'URIs: http://off.example/debian', 'Suites: bookworm', 'Components: main', 'Enabled: no', '',
        'Types: deb', '# a snapshot, once', 'URIs: http://security.example/debian-security', 'Suites: bookworm-security', 'Components: main', '',
        'Types: deb-src deb', 'URIs: http://one.example/debian', '  http://two.example/debian', 'Suites: bookworm bookworm-updates', 'Components: main', 'Signed-By: /k.gpg',
      ].join('\n'),
    });
    expect(r).toEqual({ code: 0, out: 'http://one.example/debian', err: '' });
  });

  it('ignores files that are neither .list nor .sources, and sources of other suites or without main', () => {
    const r = mirror({
      'sources.list.d/old.list.disabled': 'deb http://disabled.example/debian bookworm main\n',
      'sources.list.d/other.list': 'deb http://other.example/apt nodistro main\ndeb http://contrib.example/debian bookworm contrib\n',
      'sources.list.d/z.list': 'deb http://z.example/debian bookworm-updates main\n',
    });
    expect(r.out).toBe('http://z.example/debian');
  });

  it('says clearly when there is no Debian source, and exits 1', () => {
    const none = mirror({});
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/^debian-mirror: no apt sources in /);
    const other = mirror({ 'sources.list': 'deb http://security.example/debian-security bookworm-security main\n' });
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/no enabled 'deb' source for bookworm \(main\).*set LAPIS_DEBIAN_MIRROR/);
  });
});
