/**
 * Builds and benchmarks the same model at several precisions, one after the other, and prints
 * them side by side: the answer to "my INT8 engine is slower than FP16" (how many layers really
 * run in INT8, how many reformat layers the mixed precision costs, how the timings compare).
 */

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { buildTrtexecArgs } from './args.js';
import { TrtexecUsageError } from './errors.js';
import { precisionLabel, type BuildOptions, type PrecisionSpec } from './options.js';
import { runTrtexec, type TrtexecRunResult } from './run.js';

export interface CompareVariant {
  readonly precision: PrecisionSpec;
  /** Column title; default from the precision (`best`, `fp16`, `fp16+int8`). */
  readonly label?: string;
  /**
   * Another model for this variant, e.g. the FP32 model for the `fp16` column while the QDQ
   * model is built with `best`.
   */
  readonly onnxPath?: string;
  /** Options overriding `base` for this variant only. */
  readonly options?: Partial<BuildOptions>;
}

export type CompareVariantSpec = PrecisionSpec | CompareVariant;

export interface ComparisonEntry {
  readonly label: string;
  readonly precision: PrecisionSpec;
  readonly onnxPath: string;
  readonly result: TrtexecRunResult;
}

export interface EngineComparison {
  readonly onnxPath: string;
  readonly entries: readonly ComparisonEntry[];
}

export interface CompareOptions {
  /** Called before each variant's build starts. */
  readonly onVariantStart?: (label: string, index: number) => void;
}

function isVariantObject(v: CompareVariantSpec): v is CompareVariant {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `out/model.engine` + `fp16` → `out/model.fp16.engine`. */
export function withLabelSuffix(file: string, label: string): string {
  const safe = label.replace(/[^A-Za-z0-9_+-]/g, '_');
  const ext = path.extname(file);
  return ext ? `${file.slice(0, -ext.length)}.${safe}${ext}` : `${file}.${safe}`;
}

/**
 * Runs one trtexec build + benchmark per variant (sequentially: two builds on one GPU would
 * distort each other's timings) and returns the results in variant order. Every variant's
 * arguments are validated before the first build starts. Layer information is always exported
 * (to a temporary file unless `base.exportLayerInfo` is set; then one file per variant, suffixed
 * with its label, as are `saveEngine` and `exportProfile`).
 */
export async function compareEngines(
  onnxPath: string,
  base: BuildOptions = {},
  variants: readonly CompareVariantSpec[] = ['best', 'fp16'],
  compareOptions: CompareOptions = {},
): Promise<EngineComparison> {
  if (!Array.isArray(variants) || variants.length === 0) {
    throw new TrtexecUsageError('compareEngines needs at least one variant, e.g. ["best", "fp16"].');
  }
  if (base.skipInference) {
    throw new TrtexecUsageError('compareEngines compares benchmark timings; remove skipInference from the base options.');
  }
  const normalized = variants.map((v) => {
    const o: CompareVariant = isVariantObject(v) ? v : { precision: v };
    return { ...o, label: o.label ?? precisionLabel(o.precision), onnxPath: o.onnxPath ?? onnxPath };
  });
  const labels = new Set<string>();
  for (const v of normalized) {
    if (labels.has(v.label)) {
      throw new TrtexecUsageError(`compareEngines: two variants are labelled "${v.label}"; give them distinct labels.`);
    }
    labels.add(v.label);
  }

  const tempDir = base.exportLayerInfo === undefined ? await mkdtemp(path.join(os.tmpdir(), 'qdeploy-trtexec-')) : undefined;
  try {
    const plans = normalized.map((v) => {
      const options: BuildOptions = {
        ...base,
        ...(v.options ?? {}),
        precision: v.precision,
        exportLayerInfo:
          v.options?.exportLayerInfo ??
          (base.exportLayerInfo !== undefined
            ? withLabelSuffix(base.exportLayerInfo, v.label)
            : path.join(tempDir!, withLabelSuffix('layers.json', v.label))),
      };
      const o = options as { -readonly [K in keyof BuildOptions]: BuildOptions[K] };
      if (v.options?.saveEngine === undefined && base.saveEngine !== undefined) o.saveEngine = withLabelSuffix(base.saveEngine, v.label);
      if (v.options?.exportProfile === undefined && base.exportProfile !== undefined) o.exportProfile = withLabelSuffix(base.exportProfile, v.label);
      if (options.skipInference) {
        throw new TrtexecUsageError(`compareEngines: variant "${v.label}" sets skipInference; every variant must be benchmarked.`);
      }
      try {
        buildTrtexecArgs(v.onnxPath, options);
      } catch (e) {
        if (e instanceof TrtexecUsageError) throw new TrtexecUsageError(`compareEngines, variant "${v.label}": ${e.message}`);
        throw e;
      }
      return { ...v, options };
    });

    const entries: ComparisonEntry[] = [];
    for (const [i, plan] of plans.entries()) {
      compareOptions.onVariantStart?.(plan.label, i);
      const result = await runTrtexec(plan.onnxPath, plan.options);
      entries.push({ label: plan.label, precision: plan.precision, onnxPath: plan.onnxPath, result });
    }
    return { onnxPath, entries };
  } finally {
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  }
}

/** Up to 4 significant digits; integers ≥ 1000 in full. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 1000) return Math.round(x).toString();
  return Number(x.toPrecision(4)).toString();
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

const DASH = '—';

function isFp16Only(e: ComparisonEntry): boolean {
  return precisionLabel(e.precision) === 'fp16';
}

function usesInt8(e: ComparisonEntry): boolean {
  const l = precisionLabel(e.precision);
  return l.includes('int8') || l === 'best' || l === 'stronglyTyped';
}

/** Latency used for speed-ups: mean GPU compute time, else median latency. */
function speedBasis(e: ComparisonEntry): number | undefined {
  return e.result.summary.gpuComputeTime?.mean ?? e.result.summary.latency?.median;
}

/**
 * A side-by-side table (metrics as rows, variants as columns) followed by notes: unstable or
 * enqueue-bound measurements, and for an INT8 variant slower than FP16 the reformat layers that
 * convert between precisions.
 */
export function formatComparison(comparison: EngineComparison | readonly ComparisonEntry[]): string {
  const entries: readonly ComparisonEntry[] = Array.isArray(comparison) ? comparison : (comparison as EngineComparison).entries;
  if (entries.length === 0) return 'No trtexec results to compare.';
  const baseline = entries.find(isFp16Only) ?? entries[0]!;
  const baseTime = speedBasis(baseline);

  const rows: Array<[string, ...string[]]> = [];
  const row = (name: string, f: (e: ComparisonEntry) => string) => rows.push([name, ...entries.map(f)]);
  row('Precision', (e) => {
    const reported = e.result.summary.precision;
    const flags = e.result.args.filter((a) => ['--best', '--int8', '--fp16', '--stronglyTyped'].includes(a)).join(' ') || '(fp32)';
    return reported !== undefined ? `${reported} (${flags})` : flags;
  });
  row('Median latency (ms)', (e) => (e.result.summary.latency ? formatNumber(e.result.summary.latency.median) : DASH));
  row('Mean GPU compute (ms)', (e) => (e.result.summary.gpuComputeTime ? formatNumber(e.result.summary.gpuComputeTime.mean) : DASH));
  row('Throughput (qps)', (e) => (e.result.summary.throughputQps !== undefined ? formatNumber(e.result.summary.throughputQps) : DASH));
  row(`Speed-up vs ${baseline.label}`, (e) => {
    const t = speedBasis(e);
    return t !== undefined && baseTime !== undefined && t > 0 ? `${(baseTime / t).toFixed(2)}×` : DASH;
  });
  row('INT8 layer share', (e) => {
    const s = e.result.layerInfo?.summary;
    if (!s || s.int8Share === null) return DASH;
    const known = s.computeLayers - (s.computeByPrecision.UNKNOWN ?? 0);
    return `${pct(s.int8Share)} (${s.int8ComputeLayers}/${known})`;
  });
  row('Reformat layers', (e) => {
    const s = e.result.layerInfo?.summary;
    if (!s) return DASH;
    return s.precisionReformats > 0 ? `${s.reformatLayers} (${s.precisionReformats} type changes)` : String(s.reformatLayers);
  });
  row('Build time (s)', (e) => (e.result.summary.engineBuildTimeS !== undefined ? formatNumber(e.result.summary.engineBuildTimeS) : DASH));

  const header: [string, ...string[]] = ['', ...entries.map((e) => e.label)];
  const table = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...table.map((r) => (r[c] ?? '').length)));
  const render = (r: readonly string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();

  const versions = [...new Set(entries.map((e) => e.result.summary.tensorrtVersion).filter((v) => v !== undefined))];
  const devices = [...new Set(entries.map((e) => e.result.summary.device).filter((v) => v !== undefined))];
  const models = [...new Set(entries.map((e) => e.onnxPath))];
  const context = [
    versions.length > 0 ? `TensorRT ${versions.join(' / ')}` : undefined,
    devices.length > 0 ? devices.join(' / ') : undefined,
  ].filter((x) => x !== undefined);
  const lines = [
    `trtexec comparison: ${models.join(' vs ')}${context.length > 0 ? ` (${context.join(', ')})` : ''}`,
    render(header),
    render(widths.map((w) => '-'.repeat(w))),
    ...rows.map(render),
    `Speed-up = ${baseline.label} time / variant time (mean GPU compute time, else median latency).`,
  ];

  const notes: string[] = [];
  for (const e of entries) {
    const s = e.result.summary;
    if (s.unstable) {
      notes.push(`${e.label}: GPU compute time is unstable (coefficient of variance ${formatNumber(s.unstable.coefficientOfVariancePct)}%); lock the GPU clocks or add useSpinWait before trusting small differences.`);
    }
    if (s.enqueueBound) {
      notes.push(`${e.label}: throughput may be bound by enqueue time (GPU under-utilised); try useCudaGraph.`);
    }
  }
  const base = speedBasis(baseline);
  for (const e of entries) {
    if (e === baseline || !usesInt8(e)) continue;
    const t = speedBasis(e);
    if (t === undefined || base === undefined || t <= base) continue;
    const s = e.result.layerInfo?.summary;
    const parts = [`${e.label} is slower than ${baseline.label} (${(base / t).toFixed(2)}×).`];
    if (s) {
      parts.push(
        `${s.int8Share === null ? 'INT8 share unknown' : `only ${pct(s.int8Share)} of compute layers run in INT8`}; ${s.reformatLayers} reformat layers, ${s.precisionReformats} of them converting between precisions.`,
      );
      const conversions = (e.result.layerInfo?.layers ?? []).filter((l) => l.reformat && l.reformat.kind !== 'layout');
      for (const l of conversions.slice(0, 8)) parts.push(`  - ${l.name}: ${l.reformat!.reason}`);
      if (conversions.length > 8) parts.push(`  - … ${conversions.length - 8} more`);
      parts.push(
        'Typical causes: a Conv/Gemm whose input or residual (skip) input is not quantized, depthwise convs or pooling quantized in between INT8 layers, Q/DQ pairs TensorRT cannot fuse.',
      );
    }
    notes.push(parts.join('\n'));
  }
  if (notes.length > 0) lines.push('', 'Notes:', ...notes.map((n) => `* ${n}`));
  return lines.join('\n');
}
