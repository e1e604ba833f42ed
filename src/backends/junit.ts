// The one JUnit XML writer of the command line (`lapis suite --junit`, with or without --on): a test suite of
// test cases, each passed, failed, in error or skipped.

export interface JunitCase {
  classname: string;
  name: string;
  /** Milliseconds, when the case ran. */
  ms?: number;
  failure?: string;
  error?: string;
  skipped?: string;
}

function xml(s: string): string {
  // Control characters other than tab and newline are not allowed in XML 1.0 at all.
  return s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '?').replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function junitXml(suite: string, cases: JunitCase[]): string {
  const count = (k: 'failure' | 'error' | 'skipped') => cases.filter((c) => c[k] !== undefined).length;
  const lines = cases.map((c) => {
    const head = `  <testcase classname="${xml(c.classname)}" name="${xml(c.name)}"${c.ms !== undefined ? ` time="${(c.ms / 1000).toFixed(3)}"` : ''}>`;
    const body = c.failure !== undefined ? `<failure message="${xml(c.failure)}"/>`
      : c.error !== undefined ? `<error message="${xml(c.error)}"/>`
        : c.skipped !== undefined ? `<skipped message="${xml(c.skipped)}"/>` : '';
    return `${head}${body}</testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="${xml(suite)}" tests="${cases.length}" failures="${count('failure')}" errors="${count('error')}" skipped="${count('skipped')}">\n${lines.join('\n')}\n</testsuite>\n`;
}
