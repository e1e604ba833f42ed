// Messages between the page and the engine worker.

export type Request =
  | { id: number; op: 'parse'; text: string }
  | { id: number; op: 'profiles' }
  | { id: number; op: 'run'; text: string; profile: string; maxStates?: number; timeoutMs?: number }
  | { id: number; op: 'witness'; text: string; profile: string; key: string; fallback: number[]; budget: number }
  | { id: number; op: 'replay'; text: string; profile: string; steps: number[] };

export type Response =
  | { id: number; progress: number }
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string; engine: boolean };

/** Requests without their id (what callers build). */
export type Call = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
