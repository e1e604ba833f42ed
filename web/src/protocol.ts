// Messages between the page and the engine worker. The page parses (front.ts): a request carries the parsed test.

import type { LitmusTest } from '../../src/litmus/ast.js';
import type { ProfileData } from './types.js';

export type Request =
  | { id: number; op: 'run'; test: LitmusTest; profile: ProfileData; maxStates?: number; timeoutMs?: number }
  | { id: number; op: 'witness'; test: LitmusTest; profile: ProfileData; key: string; fallback: number[]; budget: number }
  | { id: number; op: 'replay'; test: LitmusTest; profile: ProfileData; steps: number[] };

export type Response =
  | { id: number; progress: number }
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string; engine: boolean };

/** Requests without their id (what callers build). */
export type Call = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
