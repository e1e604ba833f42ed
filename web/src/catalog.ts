// The catalog's litmus tests, bundled at build time (the page works offline): file name, test name, description.

const files = import.meta.glob('../../litmus/*.litmus', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

export interface CatalogEntry {
  /** The file name without `.litmus`: `seed-000-sipi-during-smm`. */
  id: string;
  name: string;
  description: string;
  text: string;
  /** The file-name prefix: seed, apicv, avic, decision, ... */
  group: string;
}

export const CATALOG: CatalogEntry[] = Object.entries(files)
  .map(([path, text]) => {
    const id = path.replace(/^.*\//, '').replace(/\.litmus$/, '');
    const lines = text.split('\n');
    const name = /^lapis\s+(\S+)/.exec(lines[0] ?? '')?.[1] ?? id;
    const description = /^"(.*)"\s*$/.exec(lines[1] ?? '')?.[1] ?? '';
    return { id, name, description, text, group: id.split('-')[0] };
  })
  .sort((a, b) => a.id.localeCompare(b.id));

export const DEFAULT_TEST = 'seed-000-sipi-during-smm';

export function catalogEntry(id: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.id === id);
}

/** The catalog test whose text this is, unedited. */
export function catalogTestOf(text: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.text === text);
}
