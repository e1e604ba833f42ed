// The engine worker: from its own file when served, or from the page itself (`lapis run --html` inlines the
// worker's code in a script element, since a page opened from a file cannot load workers from other files).

export function spawnWorker(): Worker {
  const inline = document.getElementById('lapis-worker-src');
  if (inline?.textContent) {
    // A classic worker: a page opened from a file has an opaque origin, from which Chromium loads no module worker
    // (the worker is one chunk with no imports, so it runs as either).
    const url = URL.createObjectURL(new Blob([inline.textContent], { type: 'text/javascript' }));
    return new Worker(url);
  }
  return new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
}
