// CPU hot-plug on QEMU (docs/conformance.md, "CPU hot-plug"): a slot that starts empty is left out of the machine
// (the other CPUs cold-plugged around it), and an agent's `hotplug Pk` becomes a QMP device_add from the runner; the
// guest waits until the ACPI CPU hot-plug register shows the CPU, which then waits for the test's INIT-SIPI-SIPI.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backendRefusal, compileTest } from '../../src/backends/compile.js';
import { conform } from '../../src/backends/conform.js';
import { Qmp } from '../../src/backends/qmp.js';
import { explain, parseExplanations } from '../../src/backends/explain.js';
import { backend, BOOT_TEST_MS, expectJudged, load, parse, ran, refusal, text, useRunTempDir } from './helpers.js';

useRunTempDir('hotplug');

describe('compiler and launch', () => {
  it('leaves the empty slot out of QEMU\'s machine, cold-plugs the CPUs around it and opens QMP only to hot-add', () => {
    const c = compileTest(load('litmus/hotplug-then-bringup.litmus'));
    expect(c.machine).toMatchObject({ cpus: 4, unplugged: [2], hotplug: true });
    for (const b of ['qemu-tcg', 'qemu10-tcg']) {
      const l = backend(b).launch('d.img', '/tmp/lapis-x', c.machine);
      const args = l.args.join(' ');
      expect(args).toMatch(/-smp 1,maxcpus=4,sockets=4,cores=1,threads=1 /);
      expect(args).toMatch(/-device qemu64-x86_64-cpu,socket-id=1,core-id=0,thread-id=0 -device qemu64-x86_64-cpu,socket-id=3,core-id=0,thread-id=0/);
      expect(args).not.toMatch(/socket-id=2/);
      expect(l.qmp).toBe('/tmp/lapis-x/qmp.sock');
      expect(args).toMatch(/-qmp unix:\/tmp\/lapis-x\/qmp\.sock,server=on,wait=off/);
    }
    const stay = compileTest(load('litmus/unplugged-ignores-ipis.litmus'));
    expect(stay.machine.hotplug).toBeUndefined();
    expect(backend('qemu-tcg').launch('d.img', '/tmp', stay.machine).qmp).toBeUndefined();
  });

  it('refuses an empty slot where the backend cannot make one, hot-unplug everywhere, and a hotplug of a CPU that is there', () => {
    for (const b of ['bochs', 'qemu-kvm']) {
      const r = backendRefusal(compileTest(load('litmus/ipi-to-unplugged-by-name.litmus')), backend(b));
      expect(r?.category, b).toBe('hotplug');
    }
    const src = (init: string, d: string): string => `lapis t\nconfig { cpus = 3 }\ninit {\n  ${init}\n}\nP0 {\n  nop\n}\nP1 {\n  nop\n}\nD0 {\n  ${d}\n}\nexists (true)\n`;
    expect(refusal(parse(src('P2.activity = unplugged', 'hotplug P2\n  unplug P2'))).reason).toMatch(/ejects it through ACPI/);
    expect(refusal(parse(src('P2.activity = halted', 'hotplug P1'))).reason).toMatch(/P1 does not start unplugged/);
  });
});

describe('the QMP client', () => {
  it('negotiates capabilities, runs commands in order past events, and rejects with QEMU\'s error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lapis-qmp-'));
    const seen: string[] = [];
    const server = createServer((s) => {
      s.setEncoding('utf8');
      s.write('{"QMP": {"version": {}, "capabilities": []}}\n');
      let buf = '';
      s.on('data', (d: string) => {
        buf += d;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const cmd = JSON.parse(buf.slice(0, nl)) as { execute: string; arguments?: { id?: string } };
          buf = buf.slice(nl + 1);
          seen.push(cmd.execute);
          if (cmd.execute === 'device_add' && cmd.arguments?.id === 'bad') s.write('{"error": {"class": "GenericError", "desc": "CPU with socket-id 9 is out of range"}}\n');
          else s.write('{"event": "DEVICE_DELETED", "data": {}}\n{"return": {}}\n');
        }
      });
    });
    const path = join(dir, 'qmp.sock');
    await new Promise<void>((r) => server.listen(path, r));
    const q = new Qmp(path);
    try {
      await expect(q.execute('device_add', { id: 'ok' })).resolves.toEqual({});
      await expect(q.execute('device_add', { id: 'bad' })).rejects.toThrow(/GenericError: CPU with socket-id 9 is out of range/);
      expect(seen).toEqual(['qmp_capabilities', 'device_add', 'device_add']);
    } finally {
      q.close();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says so when nothing listens', async () => {
    await expect(new Qmp('/nonexistent/lapis-qmp.sock').execute('query-status')).rejects.toThrow(/cannot connect to QMP/);
  });
});

const EXPLANATIONS = parseExplanations(readFileSync('conformance/explanations.json', 'utf8'), 'conformance/explanations.json');

describe.each(['qemu-tcg', 'qemu10-tcg'])('%s', (name) => {
  const b = backend(name);
  it('hotplug-then-bringup: the hot-added CPU waits for the SIPI and starts once, a boot per run', async () => {
    const r = ran(await conform(load('litmus/hotplug-then-bringup.litmus'), { backend: b, runs: 3 }));
    expectJudged(r, 3);
    expect(r.boots).toBe(3);
    // Spec's outcome, or now and then (more often on a loaded host) H1's: the new CPU left in wait-for-SIPI
    // (CONFORMANCE.md; its mechanism in QEMU is not traced), and nothing else.
    for (const o of r.outcomes) {
      if (o.verdict === 'allowed') expect(o.key, text(r)).toBe('online=1; P2.count(sipi)=1; P2:r0=0x40; P2.apic.ID=0x2000000');
      else expect(explain(EXPLANATIONS, 'hotplug-then-bringup', name, o.key).map((e) => e.id), text(r)).toEqual(['H1']);
    }
  }, BOOT_TEST_MS);

  it('unplugged-ignores-ipis: the empty slot takes nothing and is reported unplugged', async () => {
    const r = ran(await conform(load('litmus/unplugged-ignores-ipis.litmus'), { backend: b, runs: 5 }));
    expectJudged(r, 5);
    expect(r.forbidden, text(r)).toBe(0);
    expect(r.outcomes.every((o) => o.key.includes('P2.activity=unplugged')), text(r)).toBe(true);
  }, BOOT_TEST_MS);
});
