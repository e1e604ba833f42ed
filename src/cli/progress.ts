// A progress line (on stderr) for runs longer than a second, only when stdout is a terminal.
export function progressLine(name: string): { update: (states: number) => void; done: () => void } {
  const tty = process.stdout.isTTY === true && process.stderr.isTTY === true;
  const t0 = Date.now();
  let shown = false, last = 0;
  return {
    update: (states) => {
      const now = Date.now();
      if (!tty || now - t0 < 1000 || now - last < 200) return;
      shown = true;
      last = now;
      process.stderr.write(`\r${name}: ${states} states, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    },
    done: () => {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}
