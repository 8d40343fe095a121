/**
 * Merging calibration files: the shards of one calibration (same model, placement, method
 * and data, different slices of the data) become one file, as if one run had seen it all.
 */
import type { DependencyContainer } from 'tsyringe';
import { resolveCalibratorFactory } from '../plugins/container.js';
import { CalibrationFileError, type CalibrationFile } from './calibration-file.js';
import type { CalibratorState } from './calibrator.js';

/** What must agree between shards, as [label, value] (compared as JSON). */
function identity(f: CalibrationFile): [string, unknown][] {
  return [
    ['model', f.model.sha256],
    ['backend', f.placement.backend],
    ['quantized tensors', f.placement.tensors],
    ['method', f.method],
    ['input method', f.inputMethod],
    ['calibrator options', f.calibratorOptions],
    ['histogram stride', f.histogramStride],
    ['data', f.data],
    ['shard count', f.shards[0]!.count],
  ];
}

/**
 * Merges calibration files (shards, or files already merged from shards) into one. Each
 * tensor's states are merged by its calibrator (re-binning histograms, combining extrema)
 * in shard order. Refuses files that do not belong together, a shard given twice, and an
 * incomplete set (naming the missing shards).
 */
export function mergeCalibrationFiles(files: readonly { file: string; content: CalibrationFile }[], options: { container?: DependencyContainer } = {}): CalibrationFile {
  if (files.length === 0) throw new CalibrationFileError('merge-calibration: no calibration files given');
  const first = files[0]!;
  const want = identity(first.content);
  const byIndex = new Map<number, { file: string; shard: CalibrationFile['shards'][number] }>();
  for (const { file, content } of files) {
    identity(content).forEach(([label, value], k) => {
      if (JSON.stringify(value) !== JSON.stringify(want[k]![1])) {
        throw new CalibrationFileError(`${file}: ${label} ${JSON.stringify(value)} differs from ${first.file} (${JSON.stringify(want[k]![1])}); these are not shards of one calibration`);
      }
    });
    for (const shard of content.shards) {
      const seen = byIndex.get(shard.index);
      if (seen) throw new CalibrationFileError(`${file}: shard ${shard.index}/${shard.count} is also in ${seen.file}`);
      byIndex.set(shard.index, { file, shard });
    }
  }
  const n = first.content.shards[0]!.count;
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length) throw new CalibrationFileError(`merge-calibration: missing shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${n}`).join(', ')} (given ${byIndex.size} of ${n})`);

  // Merge in shard order, so the result does not depend on the order of the arguments.
  const ordered = [...files].sort((a, b) => Math.min(...a.content.shards.map((s) => s.index)) - Math.min(...b.content.shards.map((s) => s.index)));
  const states: Record<string, CalibratorState> = {};
  for (const tensor of Object.keys(first.content.states)) {
    const parts = ordered.map(({ file, content }) => {
      const st = content.states[tensor];
      if (!st) throw new CalibrationFileError(`${file}: no state for tensor "${tensor}" (${first.file} has one)`);
      return st;
    });
    // The options belong to the main method; model inputs may use another (minmax).
    const method = parts[0]!.method;
    const cal = resolveCalibratorFactory(method, options.container)(method === first.content.method ? first.content.calibratorOptions : undefined);
    for (const st of parts) cal.merge(st);
    states[tensor] = cal.state();
  }
  return {
    ...first.content,
    shards: [...byIndex.values()].map((v) => v.shard).sort((a, b) => a.index - b.index),
    states,
  };
}
