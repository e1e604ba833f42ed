// Every KVM number src/vmm uses, checked against the system's <linux/kvm.h>: test/vmm/kvm-abi.c prints them (gcc is
// installed by npm run setup); a mismatch is an offset the VMM would read or write wrongly. Where the headers or gcc
// are missing the test logs `SKIPPED` and is skipped at run time (counted by vitest).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KVM_ABI } from '../../src/vmm/abi.js';

const HEADER = '/usr/include/linux/kvm.h';

describe('KVM ABI', () => {
  it('matches the system headers', (ctx) => {
    const gcc = spawnSync('gcc', ['--version']).status === 0;
    if (!existsSync(HEADER) || !gcc) {
      const why = !gcc ? 'no gcc' : `no ${HEADER} (Debian: linux-libc-dev)`;
      console.warn(`vmm abi.test: SKIPPED: ${why}: src/vmm/abi.ts is not checked against the kernel headers`);
      ctx.skip(why);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'lapis-abi-'));
    try {
      const exe = join(dir, 'kvm-abi');
      execFileSync('gcc', ['-o', exe, join(import.meta.dirname, 'kvm-abi.c')]);
      const fromHeaders = JSON.parse(execFileSync(exe, { encoding: 'utf8' })) as Record<string, number>;
      delete fromHeaders.end;
      expect({ ...KVM_ABI }).toEqual(fromHeaders);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
