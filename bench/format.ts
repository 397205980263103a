/** Plain-text tables for the bench's printed reports (run.ts and the scenarios that print their own). */

/** Aligned columns, two spaces apart: the first left-aligned, the others right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '))
    .join('\n');
}

/** A ratio cell: `1.23x`, or `-` when there is none. */
export function ratioText(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? '-' : `${r.toFixed(2)}x`;
}
