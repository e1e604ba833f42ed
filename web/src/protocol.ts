// Messages between the page and the engine worker.

import type { ProfileData } from './types.js';

export type Request =
  | { id: number; op: 'parse'; text: string }
  | { id: number; op: 'run'; text: string; profile: ProfileData; maxStates?: number; timeoutMs?: number }
  | { id: number; op: 'witness'; text: string; profile: ProfileData; key: string; fallback: number[]; budget: number }
  | { id: number; op: 'replay'; text: string; profile: ProfileData; steps: number[] };

export type Response =
  | { id: number; progress: number }
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string; engine: boolean };

/** Requests without their id (what callers build). */
export type Call = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
