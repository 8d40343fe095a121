import { printableName } from '../util/printable.js';
import type { BenchReport } from './bench.js';
import type { EvalReport } from './evaluate.js';

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
const db = (x: number) => (x === Infinity ? '∞ dB (identical)' : `${x.toFixed(1)} dB`);
const ms = (x: number) => (x < 10 ? x.toFixed(3) : x.toFixed(1));

/** A few aligned lines: model, samples, top-1, and the comparison with the reference. */
export function formatEvalReport(r: EvalReport): string {
  const lines = [
    `model       ${r.model}`,
    `samples     ${r.samples}`,
    `top-1       ${pct(r.top1)} (${r.correct}/${r.samples})`,
  ];
  if (r.ref) {
    const delta = 100 * (r.top1 - r.ref.top1);
    lines.push(
      `reference   ${r.ref.model}`,
      `ref top-1   ${pct(r.ref.top1)} (Δ ${delta >= 0 ? '+' : ''}${delta.toFixed(2)} points)`,
      `agreement   ${pct(r.ref.agreement)} of argmax identical`,
      `SQNR        ${db(r.ref.sqnrDb)} over the logits`,
    );
  }
  lines.push(`time        ${r.seconds.toFixed(2)} s`);
  if (r.labelsOutOfRange) lines.push(`warning     ${labelWarning(r)}`);
  return lines.join('\n');
}

/** The out-of-range labels warning (a label file for another model, or 1-based labels?). */
export function labelWarning(r: EvalReport): string {
  const o = r.labelsOutOfRange!;
  return `${o.count} of ${r.samples} labels are not class indices of the model's ${o.classes} outputs (largest label ${o.max}); those samples can never count as correct: are these the right labels (0-based)?`;
}

/** Latency (ms) and throughput lines. */
export function formatBenchReport(r: BenchReport): string {
  const shapes = Object.entries(r.inputShapes).map(([n, d]) => `${printableName(n)} [${d.join('×')}]`).join(', ');
  const l = r.latencyMs;
  return [
    `model       ${r.model}`,
    `input       ${shapes}`,
    `runs        ${r.iterations} timed after ${r.warmup} warm-up${r.threads !== undefined ? `, ${r.threads} thread${r.threads === 1 ? '' : 's'}` : ''}`,
    `latency ms  min ${ms(l.min)}  mean ${ms(l.mean)}  median ${ms(l.median)}  p90 ${ms(l.p90)}  p99 ${ms(l.p99)}`,
    `throughput  ${r.throughput >= 100 ? Math.round(r.throughput) : r.throughput.toFixed(1)} samples/s (batch ${r.batchSize})`,
  ].join('\n');
}
