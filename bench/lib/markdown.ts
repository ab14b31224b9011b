/** Markdown tables: the same text goes to the console and into bench/results/*.md. */

export type Cell = string | number | boolean | null | undefined;

function text(cell: Cell): string {
  if (cell === null || cell === undefined) return '—';
  if (typeof cell === 'number') {
    if (!Number.isFinite(cell)) return String(cell);
    if (Number.isInteger(cell)) return cell.toLocaleString('en-US');
    const abs = Math.abs(cell);
    const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
    return cell.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: Math.max(digits, abs < 1 ? 4 : digits) });
  }
  return String(cell);
}

/** Column-aligned Markdown (readable as plain text too). */
export function markdownTable(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = [header.map(String), ...rows.map((row) => row.map(text))];
  const widths = header.map((_, c) => Math.max(3, ...cells.map((row) => (row[c] ?? '').length)));
  const line = (row: readonly string[]) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [line(cells[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

/** A ratio as "1.23×", or "—" when either side is missing. */
export function ratio(numerator: number | undefined, denominator: number | undefined): string {
  if (!numerator || !denominator || !Number.isFinite(numerator / denominator)) return '—';
  return `${(numerator / denominator).toFixed(2)}×`;
}
