/**
 * Where keys sit in a TOML file, for error messages: the TOML parser gives values but not positions, so
 * the source is scanned line by line for table headers and `key =` lines. Multi-line strings and arrays
 * are skipped over roughly (a line inside them that looks like `key =` could be taken for one); a key
 * not found falls back to its table's header line.
 */
export class KeyLines {
  /** "table#index" → header line; "table#index.key" → key line (first occurrence). */
  private readonly lines = new Map<string, number>();

  constructor(source: string) {
    const counts = new Map<string, number>();
    let table = '';
    let inMultiline: string | undefined;
    source.split(/\r?\n/).forEach((text, i) => {
      const line = i + 1;
      if (inMultiline) {
        if (text.includes(inMultiline)) inMultiline = undefined;
        return;
      }
      const header = /^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$/.exec(text);
      if (header) {
        const name = header[2];
        const index = header[1] === '[[' ? (counts.get(name) ?? -1) + 1 : 0;
        counts.set(name, index);
        table = `${name}#${index}`;
        this.lines.set(table, line);
        return;
      }
      const key = /^\s*("([^"]+)"|'([^']+)'|[A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(text);
      if (!key) return;
      const name = key[2] ?? key[3] ?? key[1];
      const where = `${table}.${name}`;
      if (!this.lines.has(where)) this.lines.set(where, line);
      const value = key[4];
      for (const quote of ['"""', "'''"])
        if (value.startsWith(quote) && !value.slice(3).includes(quote)) inMultiline = quote;
    });
  }

  /** The line of `key` in the `index`th `[table]`/`[[table]]` (or of the header, or of `key` at top level). */
  of(table: string | undefined, index = 0, key?: string): number | undefined {
    const base = table === undefined ? '' : `${table}#${index}`;
    if (key !== undefined) {
      const found = this.lines.get(`${base}.${key}`);
      if (found !== undefined) return found;
    }
    return table === undefined ? undefined : this.lines.get(base);
  }
}
