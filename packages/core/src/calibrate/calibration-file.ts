/**
 * The calibration file: the calibrators' states for one placement of quantizers, written
 * by `qdeploy calibrate` (one shard of the data, or all of it), combined by `qdeploy
 * merge-calibration`, and applied by `qdeploy quantize --calibration` without running the
 * data again. Versioned and validated: a file from another model, placement or method is
 * refused with the reason, never applied.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';
import type { QuantizedModel } from '../quantize/quantized-model.js';
import type { CalibratorState } from './calibrator.js';
import { NotRegularFileError, openRegularSync } from '../util/file-kind.js';

export const CALIBRATION_FILE_FORMAT = 'qdeploy-calibration';
/** The version this build writes and reads. */
export const CALIBRATION_FILE_VERSION = 1;

/** One calibrate run that went into the file. */
export interface CalibrationShardInfo {
  /** Shard index (0-based) and count; { index: 0, count: 1 } for a run over all the data. */
  index: number;
  count: number;
  samples: number;
  batches: number;
}

export interface CalibrationFile {
  format: typeof CALIBRATION_FILE_FORMAT;
  version: typeof CALIBRATION_FILE_VERSION;
  /** The FP32 model calibrated: its file name and the SHA-256 of its bytes. */
  model: { name: string; sha256: string };
  /** Backend and the tensors that have an activation quantizer (sorted). */
  placement: { backend: string; tensors: string[] };
  /** Calibration method, the one for the model's inputs (null: the same), their options, the histogram grid. */
  method: string;
  inputMethod: string | null;
  calibratorOptions: Record<string, unknown>;
  histogramStride: number;
  /** The whole data set the shards split (before sharding). */
  data: { description: string; totalSamples: number | null };
  /** The runs merged into this file, by shard index. */
  shards: CalibrationShardInfo[];
  /** Tensor name → calibrator state. */
  states: Record<string, CalibratorState>;
}

/** A calibration file that cannot be read or used; the CLI exits 2 (bad input). */
export class CalibrationFileError extends Error {
  override readonly name = 'CalibrationFileError';
  readonly badInput = true;
}

const expecting = (what: string) => ({ error: (iss: { input?: unknown }) => `expected ${what}, got ${JSON.stringify(iss.input) ?? 'nothing'}` });
const count = () => z.number(expecting('a non-negative integer')).int(expecting('a non-negative integer')).min(0, expecting('a non-negative integer'));
const text = () => z.string(expecting('a string'));

const fileSchema = z.object({
  format: z.literal(CALIBRATION_FILE_FORMAT, expecting(`"${CALIBRATION_FILE_FORMAT}"`)),
  version: z.literal(CALIBRATION_FILE_VERSION, expecting(`version ${CALIBRATION_FILE_VERSION}`)),
  model: z.object({ name: text(), sha256: z.string(expecting('a SHA-256 in hex')).regex(/^[0-9a-f]{64}$/, expecting('a SHA-256 in hex')) }),
  placement: z.object({ backend: text(), tensors: z.array(text(), expecting('a list of tensor names')) }),
  method: z.string(expecting('a method name')).min(1, expecting('a method name')),
  inputMethod: z.string(expecting('a method name or null')).nullable(),
  calibratorOptions: z.record(z.string(), z.unknown(), expecting('an object')),
  histogramStride: count().min(1, expecting('a positive integer')),
  data: z.object({ description: text(), totalSamples: count().nullable() }),
  shards: z.array(z.object({ index: count(), count: count().min(1, expecting('a positive integer')), samples: count(), batches: count() }), expecting('a list of shards')).min(1, expecting('at least one shard')),
  states: z.record(z.string(), z.looseObject({ method: text(), version: z.number(expecting('a number')) }), expecting('an object of tensor name → state')),
});

/** SHA-256 of a file, streamed (models can be large). */
export function fileSha256(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** The sorted tensors that carry an enabled activation quantizer. */
export function placementTensors(quantized: QuantizedModel): string[] {
  return quantized.stubs().filter((s) => s.enabled).map((s) => s.tensor.name).sort();
}

/** Checks a parsed value and returns it typed; `file` names it in the error. */
export function validateCalibrationFile(value: unknown, file: string): CalibrationFile {
  const v = value as { format?: unknown; version?: unknown } | null;
  if (!v || typeof v !== 'object' || v.format !== CALIBRATION_FILE_FORMAT) {
    throw new CalibrationFileError(`${file}: not a qdeploy calibration file (no "format": "${CALIBRATION_FILE_FORMAT}"); write one with qdeploy calibrate`);
  }
  if (typeof v.version === 'number' && v.version > CALIBRATION_FILE_VERSION) {
    throw new CalibrationFileError(`${file}: calibration file version ${v.version} is newer than this qdeploy reads (${CALIBRATION_FILE_VERSION}); upgrade qdeploy`);
  }
  const r = fileSchema.safeParse(value, { reportInput: true });
  if (!r.success) {
    const iss = r.error.issues[0]!;
    throw new CalibrationFileError(`${file}: ${iss.path.map(String).join('.') || '(top level)'}: ${iss.message}`);
  }
  const f = r.data as CalibrationFile;
  const placed = new Set(f.placement.tensors);
  for (const name of Object.keys(f.states)) {
    if (!placed.has(name)) throw new CalibrationFileError(`${file}: states.${name}: tensor "${name}" is not in placement.tensors`);
  }
  return f;
}

/** Reads and validates a calibration file. */
export function readCalibrationFile(file: string): CalibrationFile {
  let text: string;
  try {
    // Opened without blocking: a FIFO in its place is refused, not waited on.
    const { fd } = openRegularSync(file);
    try {
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if (e instanceof NotRegularFileError) throw new CalibrationFileError(`${file}: is ${e.kind}, not a calibration file`);
    throw new CalibrationFileError(`${file}: cannot read the calibration file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CalibrationFileError(`${file}: not JSON (${(e as Error).message})`);
  }
  return validateCalibrationFile(value, file);
}

/**
 * Refuses a calibration file whose states do not fit this placement: another model, a
 * quantizer without a state, or shards still to merge. States for tensors this placement
 * does not quantize are fine (re-exporting with fewer quantizers reuses the calibration).
 */
export function checkCalibrationFits(f: CalibrationFile, file: string, expected: { modelSha256: string; modelName: string; tensors: readonly string[] }): void {
  if (f.model.sha256 !== expected.modelSha256) {
    throw new CalibrationFileError(
      `${file}: calibrated on another model (${f.model.name}, sha256 ${f.model.sha256.slice(0, 12)}…), not ${expected.modelName} (sha256 ${expected.modelSha256.slice(0, 12)}…); calibrate this model`,
    );
  }
  const missing = expected.tensors.filter((t) => !(t in f.states));
  if (missing.length) {
    const shown = missing.slice(0, 3).map((t) => `"${t}"`).join(', ');
    throw new CalibrationFileError(
      `${file}: no calibration state for ${missing.length} of the ${expected.tensors.length} activation quantizers (${shown}${missing.length > 3 ? ', …' : ''}): the placement differs from the calibration run (backend "${f.placement.backend}", ${f.placement.tensors.length} quantizers); calibrate with the same backend and quantization options`,
    );
  }
  const have = new Set(f.shards.map((s) => s.index));
  const n = f.shards[0]!.count;
  if (have.size < n) {
    const absent = Array.from({ length: n }, (_, i) => i).filter((i) => !have.has(i));
    throw new CalibrationFileError(`${file}: holds ${have.size} of ${n} shards (missing ${absent.map((i) => `${i}/${n}`).join(', ')}); merge them all with qdeploy merge-calibration`);
  }
}
