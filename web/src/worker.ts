// The engine in a Web Worker: requests in, answers out, progress while exploring. A run cannot be interrupted from
// inside (the explorer is synchronous), so the page stops one by terminating this worker.

import { EngineError, replay, run, witness } from './engine.js';
import type { Request, Response } from './protocol.js';

function handle(req: Request, progress: (states: number) => void): unknown {
  switch (req.op) {
    case 'run': return run(req.test, req.profile, { maxStates: req.maxStates, timeoutMs: req.timeoutMs, progress });
    case 'witness': return witness(req.test, req.profile, req.key, req.fallback, req.budget);
    case 'replay': return replay(req.test, req.profile, req.steps);
  }
}

self.onmessage = (ev: MessageEvent<Request>) => {
  const req = ev.data;
  const post = (r: Response): void => self.postMessage(r);
  try {
    const result = handle(req, (states) => post({ id: req.id, progress: states }));
    post({ id: req.id, ok: true, result });
  } catch (e) {
    post({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e), engine: e instanceof EngineError });
  }
};
