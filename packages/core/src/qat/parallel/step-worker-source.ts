/**
 * The program of one data-parallel step worker (a worker_threads Worker run from this
 * source with `eval`, so it works the same from the built package and from the TypeScript
 * sources under test). It holds one onnxruntime session of the training graph at 1/k of the
 * batch and, per run: copies the shared weights (SharedArrayBuffers the main thread updates
 * between steps; onnxruntime takes no shared memory as input) into its own arrays, runs its
 * part of the batch, copies each gradient into its shared output buffer and answers with the
 * loss and the logits.
 *
 * Messages in: { type: 'load', model, options, shared: [{ name, buffer, dims }], grads: [{ name, buffer }] }
 * and { type: 'run', feeds: { name: { type, data, dims } }, loss, logits }. Out: { ok, ... } or
 * { ok: false, error }.
 */
export const STEP_WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
let session = null;
let shared = [];
let grads = [];
async function handle(m) {
  if (m.type === 'load') {
    if (session) await session.release();
    session = await ort.InferenceSession.create(m.model, m.options);
    shared = m.shared.map((s) => {
      const own = new Float32Array(s.buffer.byteLength / 4);
      return { name: s.name, view: new Float32Array(s.buffer), own, tensor: new ort.Tensor('float32', own, s.dims) };
    });
    grads = m.grads.map((g) => ({ name: g.name, view: new Float32Array(g.buffer) }));
    return {};
  }
  const feeds = {};
  for (const s of shared) {
    s.own.set(s.view);
    feeds[s.name] = s.tensor;
  }
  for (const [name, f] of Object.entries(m.feeds)) feeds[name] = new ort.Tensor(f.type, f.data, f.dims);
  const out = await session.run(feeds);
  for (const g of grads) g.view.set(out[g.name].data);
  return { loss: out[m.loss].data[0], logits: out[m.logits].data };
}
parentPort.on('message', (m) => {
  handle(m).then(
    (r) => parentPort.postMessage({ ok: true, ...r }),
    (e) => parentPort.postMessage({ ok: false, error: String((e && e.message) || e) }),
  );
});
`;
