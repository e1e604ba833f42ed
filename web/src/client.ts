// The page's side of the engine worker: promises for requests, progress callbacks, and stop (terminate and start
// a fresh worker; the explorer runs to completion otherwise).

import type { LitmusTest } from '../../src/litmus/ast.js';
import { load, parse } from './front.js';
import type { Call, Request, Response } from './protocol.js';
import type { Parsed, ProfileInfo, RawTrace, RunAnswer } from './types.js';
import { profileData, profileInfos } from './profiles.js';
import { spawnWorker } from './spawn.js';

export class StoppedError extends Error {
  constructor() {
    super('stopped');
  }
}

interface Waiting {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  progress?: (states: number) => void;
}

export class EngineClient {
  private worker: Worker;
  private next = 1;
  private waiting = new Map<number, Waiting>();

  constructor() {
    this.worker = this.start();
  }

  private start(): Worker {
    const w = spawnWorker();
    w.onmessage = (ev: MessageEvent<Response>) => {
      const r = ev.data, q = this.waiting.get(r.id);
      if (!q) return;
      if ('progress' in r) return q.progress?.(r.progress);
      this.waiting.delete(r.id);
      if (r.ok) q.resolve(r.result);
      else q.reject(new Error(r.error));
    };
    w.onerror = (ev) => {
      for (const q of this.waiting.values()) q.reject(new Error(ev.message || 'the engine worker failed'));
      this.waiting.clear();
    };
    return w;
  }

  private call<T>(c: Call, progress?: (states: number) => void): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, progress });
      this.worker.postMessage({ ...c, id } as Request);
    });
  }

  /** End whatever the worker is doing: every open request fails with StoppedError. */
  stop(): void {
    this.worker.terminate();
    for (const q of this.waiting.values()) q.reject(new StoppedError());
    this.waiting.clear();
    this.worker = this.start();
  }

  busy(): boolean {
    return this.waiting.size > 0;
  }

  /** A request about the test `text`, parsed here (the worker has no parser): a text that does not parse fails. */
  private about<T>(text: string, call: (test: LitmusTest) => Call, progress?: (states: number) => void): Promise<T> {
    let test: LitmusTest;
    try {
      test = load(text);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return this.call(call(test), progress);
  }

  parse(text: string): Promise<Parsed> {
    return Promise.resolve(parse(text));
  }
  profiles(): Promise<ProfileInfo[]> {
    return Promise.resolve(profileInfos());
  }
  run(text: string, profile: string, progress?: (states: number) => void, opts: { maxStates?: number; timeoutMs?: number } = {}): Promise<RunAnswer> {
    return this.about(text, (test) => ({ op: 'run', test, profile: profileData(profile), ...opts }), progress);
  }
  witness(text: string, profile: string, key: string, fallback: number[], budget: number): Promise<number[]> {
    return this.about(text, (test) => ({ op: 'witness', test, profile: profileData(profile), key, fallback, budget }));
  }
  replay(text: string, profile: string, steps: number[]): Promise<RawTrace> {
    return this.about(text, (test) => ({ op: 'replay', test, profile: profileData(profile), steps }));
  }
}
