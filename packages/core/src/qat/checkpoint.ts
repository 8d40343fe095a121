/**
 * QAT checkpoints: one file per training run folder, rewritten after each epoch with a
 * temporary file + rename, so an interrupt leaves the last complete checkpoint. Layout:
 * "QDQAT1\n", a little-endian uint32 header length, a JSON header (epoch, steps, what was
 * trained, where each tensor is), then the float32 data (weights, learned activation and weight scales, BN
 * statistics, the emaDecay averages, optimizer buffers).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { OptimizerState } from './optimizer.js';

export const CHECKPOINT_FILE = 'qat-checkpoint.bin';
const MAGIC = 'QDQAT1\n';

export interface Checkpoint {
  /** Epochs completed. */
  epoch: number;
  /** Updates applied. */
  steps: number;
  /** What the run trains (model, loss, batch, optimizer): a resume must match it. */
  fingerprint: string;
  params: Map<string, Float32Array>;
  scales: Map<string, Float32Array>;
  /** Learned per-channel weight scales (empty unless learnWeightScales). */
  weightScales: Map<string, Float32Array>;
  runningStats: Map<string, Float32Array>;
  /** The moving average of the trained values and its update count (emaDecay; absent without it). */
  average?: { updates: number; values: Map<string, Float32Array> };
  optimizer: OptimizerState;
  /** Free-form history (loss and accuracy per epoch). */
  history: unknown[];
}

type Section = 'params' | 'scales' | 'weightScales' | 'runningStats' | 'average' | 'optimizer';
interface Entry { section: Section; name: string; offset: number; length: number }

export function checkpointPath(dir: string): string {
  return path.join(dir, CHECKPOINT_FILE);
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const entries: Entry[] = [];
  const arrays: Float32Array[] = [];
  let offset = 0;
  const add = (section: Section, map: Map<string, Float32Array> | Record<string, Float32Array>) => {
    for (const [name, a] of map instanceof Map ? map : Object.entries(map)) {
      entries.push({ section, name, offset, length: a.length });
      arrays.push(a);
      offset += a.length;
    }
  };
  add('params', c.params);
  add('scales', c.scales);
  add('weightScales', c.weightScales);
  add('runningStats', c.runningStats);
  if (c.average) add('average', c.average.values);
  add('optimizer', c.optimizer.buffers);
  const header = Buffer.from(JSON.stringify({ epoch: c.epoch, steps: c.steps, fingerprint: c.fingerprint, optimizerStep: c.optimizer.step, ...(c.average ? { averageUpdates: c.average.updates } : {}), history: c.history, entries }));
  // Pad the header so the float data starts 4-byte aligned.
  const start = MAGIC.length + 4 + header.length;
  const pad = (4 - (start % 4)) % 4;
  const out = new Uint8Array(start + pad + offset * 4);
  out.set(Buffer.from(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.length + pad, true);
  out.set(header, MAGIC.length + 4);
  out.fill(0x20, start, start + pad); // spaces: JSON.parse ignores them
  const data = new Float32Array(out.buffer, start + pad, offset);
  let at = 0;
  for (const a of arrays) {
    data.set(a, at);
    at += a.length;
  }
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array, where: string): Checkpoint {
  if (Buffer.from(bytes.subarray(0, MAGIC.length)).toString() !== MAGIC) throw new Error(`${where}: not a qdeploy QAT checkpoint`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4 + headerLen;
  const h = JSON.parse(Buffer.from(bytes.subarray(MAGIC.length + 4, start)).toString()) as {
    epoch: number; steps: number; fingerprint: string; optimizerStep: number; averageUpdates?: number; history: unknown[]; entries: Entry[];
  };
  const total = h.entries.reduce((a, e) => Math.max(a, e.offset + e.length), 0);
  if (bytes.byteLength < start + total * 4) throw new Error(`${where}: checkpoint truncated (${bytes.byteLength} bytes, expected ${start + total * 4})`);
  const copy = new Float32Array(total);
  new Uint8Array(copy.buffer).set(bytes.subarray(start, start + total * 4));
  const c: Checkpoint = {
    epoch: h.epoch, steps: h.steps, fingerprint: h.fingerprint, history: h.history,
    params: new Map(), scales: new Map(), weightScales: new Map(), runningStats: new Map(), optimizer: { step: h.optimizerStep, buffers: {} },
  };
  if (h.averageUpdates !== undefined) c.average = { updates: h.averageUpdates, values: new Map() };
  for (const e of h.entries) {
    const a = copy.subarray(e.offset, e.offset + e.length);
    if (e.section === 'optimizer') c.optimizer.buffers[e.name] = a;
    else if (e.section === 'average') c.average!.values.set(e.name, a);
    else c[e.section].set(e.name, a);
  }
  return c;
}

/** Writes the checkpoint atomically into `dir` (created if missing). */
export async function saveCheckpoint(dir: string, c: Checkpoint): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  const file = checkpointPath(dir);
  await writeFileAtomic(file, encodeCheckpoint(c));
  return file;
}

/** The checkpoint in `dir`, or null when there is none. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint | null> {
  const file = checkpointPath(dir);
  if (!fs.existsSync(file)) return null;
  return decodeCheckpoint(await fsp.readFile(file), file);
}
