// lapis fingerprint REPORT.json: src/backends/fingerprint.ts on a saved report. Exit 0 when the best quirk set
// explains every observed outcome, 1 when some outcome is unexplained, 2 for a report that cannot be read.
import { readFileSync } from 'node:fs';
import { fingerprint, formatFingerprint } from '../backends/fingerprint.js';
import { parseSuiteJson, ReportError } from '../backends/report.js';
import { PROFILES, type Profile } from '../sim/profiles.js';
import { UsageError } from './errors.js';
import { EXIT } from './exit.js';

export function fingerprintCommand(file: string, dir: string, extra: Profile | null, print: (s: string) => void): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a report' : (e as Error).message}`);
  }
  let report;
  try {
    report = parseSuiteJson(text, file);
  } catch (e) {
    if (e instanceof ReportError) throw new UsageError(e.message);
    throw e;
  }
  const f = fingerprint(report, dir, new Map(), extra ? [...PROFILES, extra] : PROFILES);
  for (const line of formatFingerprint(f, report.backend.version)) print(line);
  return f.unexplained.length > 0 ? EXIT.NO : EXIT.OK;
}
