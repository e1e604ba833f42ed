// A QMP client (QEMU Machine Protocol: JSON lines on a UNIX socket) for the one thing the runner asks of a running
// QEMU: hot-adding a CPU (`device_add`, docs/conformance.md "CPU hot-plug"). Commands go one at a time, in order;
// asynchronous events are skipped. Nothing here throws: a failure is a rejected promise with QEMU's message.

import { connect, type Socket } from 'node:net';

const CONNECT_TRIES = 50;
const CONNECT_RETRY_MS = 20;

export class QmpError extends Error {}

export class Qmp {
  private socket: Socket | null = null;
  private buffer = '';
  private waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  private ready: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly path: string) {}

  /** Run `command` with `args` once the session is up (the greeting read, capabilities negotiated). */
  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    this.ready ??= this.open();
    await this.ready;
    return this.send(command, args);
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = null;
    for (const w of this.waiting.splice(0)) w.reject(new QmpError('QMP connection closed'));
  }

  private async open(): Promise<void> {
    // QEMU creates the socket before the guest runs, so it is there by the time the guest asks; a few retries
    // cover a connect racing QEMU's start-up.
    let last: Error | null = null;
    for (let i = 0; i < CONNECT_TRIES && !this.closed; i++) {
      try {
        this.socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(this.path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        break;
      } catch (e) {
        last = e as Error;
        await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
      }
    }
    const s = this.socket;
    if (!s) throw new QmpError(`cannot connect to QMP at ${this.path}: ${last?.message ?? 'closed'}`);
    s.setEncoding('utf8');
    s.on('data', (d: string) => this.data(d));
    s.on('error', (e) => this.fail(e));
    s.on('close', () => this.fail(new QmpError('QMP connection closed')));
    await new Promise<unknown>((resolve, reject) => this.waiting.push({ resolve, reject })); // the greeting
    await this.send('qmp_capabilities');
  }

  private send(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const s = this.socket;
    if (!s || this.closed) return Promise.reject(new QmpError('QMP connection closed'));
    const p = new Promise<unknown>((resolve, reject) => this.waiting.push({ resolve, reject }));
    s.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    return p;
  }

  private data(d: string): void {
    this.buffer += d;
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.fail(new QmpError(`QMP sent something that is not JSON: ${line.slice(0, 80)}`));
        return;
      }
      if ('event' in msg) continue;
      const w = this.waiting.shift();
      if (!w) continue;
      if ('error' in msg) {
        const e = msg.error as { class?: string; desc?: string };
        w.reject(new QmpError(`${e.class ?? 'error'}: ${e.desc ?? line}`));
      } else w.resolve(msg.return ?? msg.QMP);
    }
  }

  private fail(e: Error): void {
    for (const w of this.waiting.splice(0)) w.reject(e);
  }
}
