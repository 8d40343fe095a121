/** Small text-formatting helpers for the CLI's reports. */
import { printableName } from '../util/printable.js';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatSeconds(s: number): string {
  if (s < 0.01) return `${(s * 1000).toFixed(1)} ms`;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 120) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "A 3, B 1" from a name → count record (in its order). */
export function formatCounts(counts: Record<string, number>, sep = ', ', times = ' '): string {
  const entries = Object.entries(counts);
  return entries.length ? entries.map(([k, v]) => `${printableName(k)}${times}${v}`).join(sep) : 'none';
}

/** Left-aligned columns (numbers right-aligned), two spaces apart, with an optional header rule. */
export function table(rawRows: readonly (readonly (string | number)[])[], header?: readonly string[], indent = '  '): string {
  // A cell is one field: a newline or an escape sequence in a model's name must not make a line of its own.
  const rows = rawRows.map((r) => r.map((c) => (typeof c === 'string' ? printableName(c) : c)));
  const all = header ? [header, ...rows] : [...rows];
  if (all.length === 0) return '';
  const cols = Math.max(...all.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, c) => Math.max(...all.map((r) => String(r[c] ?? '').length)));
  const numeric = Array.from({ length: cols }, (_, c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number'));
  const line = (r: readonly (string | number)[]) =>
    indent +
    r
      .map((cell, c) => {
        const s = String(cell ?? '');
        if (c === r.length - 1 && !numeric[c]) return s;
        return numeric[c] ? s.padStart(widths[c]!) : s.padEnd(widths[c]!);
      })
      .join('  ')
      .trimEnd();
  const out: string[] = [];
  if (header) {
    out.push(line(header));
    out.push(indent + widths.map((w) => '-'.repeat(w)).join('  '));
  }
  for (const r of rows) out.push(line(r));
  return out.join('\n');
}

/** `[1, 32, 3, 3]` */
export function formatShape(dims: readonly (number | string | null)[] | null | undefined): string {
  if (!dims) return '?';
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}
