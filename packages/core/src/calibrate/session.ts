import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Model } from '../ir/model.js';
import { onnx } from '../onnx/proto.js';
import { modelToBytes, modelToProto } from '../onnx/save.js';
import { externalDataFiles } from '../onnx/external-data.js';

/** Above this many bytes of initializers a model cannot travel as one protobuf message (2 GiB, less headroom for the graph). */
export const IN_MEMORY_MODEL_LIMIT = 2 ** 31 - 64 * 2 ** 20;

/**
 * An onnxruntime session for a model of any size. Up to ~2 GiB the model goes to
 * onnxruntime as bytes; above, protobuf cannot encode it, so onnxruntime reads it from a
 * file that refers to the model's own external data files where they are (no copy of the
 * weights). onnxruntime only follows data inside the model file's folder (symlinks
 * resolved), so that file is written, hidden and briefly, beside the data; tensors that
 * live in memory (folded BatchNorms, ...) go to a data file beside it. Big models also
 * skip onnxruntime's weight prepacking, which would hold a second copy of every MatMul /
 * Gemm weight. Both files are removed once the session exists (onnxruntime has read or
 * mapped the data by then).
 */
export async function createSession(model: Model, options: ort.InferenceSession.SessionOptions = {}, inMemoryLimit = IN_MEMORY_MODEL_LIMIT): Promise<ort.InferenceSession> {
  const total = model.graph.initializers().reduce((s, v) => s + v.initializer!.byteLength, 0);
  if (total <= inMemoryLimit) return ort.InferenceSession.create(modelToBytes(model), options);
  const files = externalDataFiles(model);
  const dirs = new Set(files.map((f) => path.dirname(f)));
  if (dirs.size > 1) throw new Error(`a model over 2 GB must keep its external data in one folder to be calibrated; it reads ${[...dirs].join(', ')}`);
  const dir = dirs.size ? [...dirs][0]! : fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-session-'));
  const base = path.join(dir, `.qdeploy-session-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const file = `${base}.onnx`;
  const inline = `${base}.data`;
  let fd: number | null = null;
  try {
    let offset = 0;
    const proto = modelToProto(model, (t) => {
      if (t.byteLength < 4096) return null;
      const ref = t.externalRef;
      if (ref) return { location: path.relative(dir, ref.file), offset: ref.offset, length: ref.length };
      fd ??= fs.openSync(inline, 'w');
      const bytes = t.rawBytes();
      fs.writeSync(fd, bytes, 0, bytes.length, offset);
      const entry = { location: path.basename(inline), offset, length: bytes.length };
      // Page-aligned, so onnxruntime can map it instead of copying.
      offset = Math.ceil((offset + bytes.length) / 4096) * 4096;
      return entry;
    });
    if (fd !== null) {
      fs.closeSync(fd);
      fd = null;
    }
    fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
    const extra = (options.extra ?? {}) as Record<string, Record<string, string>>;
    return await ort.InferenceSession.create(file, { ...options, extra: { ...extra, session: { disable_prepacking: '1', ...extra.session } } });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
      throw new Error(`calibrating a model over 2 GB needs to write a small session file beside its external data in ${dir} (${code}); make the folder writable or copy the model to one that is`);
    }
    throw e;
  } finally {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    fs.rmSync(inline, { force: true });
    if (!dirs.size) fs.rmSync(dir, { recursive: true, force: true });
  }
}
