// One pipeline measurement in a fresh process (npm run bench's pipeline rows): the file
// floor (`io`: load + save, i.e. read, decode, encode, write) or the pipeline (load +
// transform + insertQdq + export + save) of one ONNX file. Prints one JSON line with each
// phase's wall time and, for the whole run, what explains its swings from run to run:
// CPU time (wall − CPU is time spent waiting for a core or the disk), garbage-collection
// pauses, page faults, context switches (involuntary: preempted by other processes).
// Usage: node scripts/bench/pipeline-task.mjs io|pipeline <model.onnx>
//        node scripts/bench/pipeline-task.mjs generate resnet50|vit-b16 <out.onnx>
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { loadModel, saveModel, transform, insertQdq } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '@qdeploy/backend-tensorrt';

const [task, ...args] = process.argv.slice(2);

/** Runs `steps` (name → function) in order and reports each one's wall time plus the run's resource use. */
async function measure(steps) {
  let gcMs = 0;
  let gcs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcs++;
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  const u0 = process.resourceUsage();
  const t0 = performance.now();
  const phases = {};
  const phasesCpu = {};
  let value;
  for (const [name, step] of Object.entries(steps)) {
    const t = performance.now();
    const c = process.cpuUsage();
    value = await step(value);
    phases[name] = performance.now() - t;
    const dc = process.cpuUsage(c);
    phasesCpu[name] = (dc.user + dc.system) / 1000;
  }
  const totalMs = performance.now() - t0;
  const u = process.resourceUsage();
  await new Promise((resolve) => setImmediate(resolve)); // let the last gc entries arrive
  gc.disconnect();
  return {
    phases,
    phasesCpu,
    totalMs,
    cpuMs: (u.userCPUTime - u0.userCPUTime + u.systemCPUTime - u0.systemCPUTime) / 1000,
    sysMs: (u.systemCPUTime - u0.systemCPUTime) / 1000,
    gcMs,
    gcs,
    minorFaults: u.minorPageFault - u0.minorPageFault,
    majorFaults: u.majorPageFault - u0.majorPageFault,
    preempted: u.involuntaryContextSwitches - u0.involuntaryContextSwitches,
    waits: u.voluntaryContextSwitches - u0.voluntaryContextSwitches,
    peakMiB: u.maxRSS / 1024,
  };
}

/** A fresh folder for the output, removed afterwards (the outputs are as large as the models). */
async function withOutDir(fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-bench-'));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const tasks = {
  // The file floor: read + decode, encode + write (temp file, fsync, rename), nothing else.
  io: (file) => withOutDir((dir) => measure({
    load: () => loadModel(file),
    save: (m) => saveModel(m, path.join(dir, 'copy.onnx')),
  })),
  // The pipeline, saved as a QDQ model with int8 weights.
  pipeline: (file) => withOutDir(async (dir) => {
    let nodes = 0;
    let matches = 0;
    const r = await measure({
      load: () => loadModel(file),
      transform: (m) => transform(m, { patterns: TENSORRT_PATTERNS }),
      insertQdq: (t) => {
        nodes = t.model.graph.nodes.length;
        matches = t.matches.length;
        return insertQdq(t.model, t.matches);
      },
      export: (q) => q.toExportModel({ quiet: true }),
      save: (m) => saveModel(m, path.join(dir, 'qdq.onnx')),
    });
    return { ...r, nodes, matches };
  }),
  // Writes a generated model to disk (the generated rows).
  async generate(kind, out) {
    const mod = await import('@qdeploy/backend-tensorrt/testing');
    const m = kind === 'vit-b16' ? mod.buildVitB16() : mod.buildResNet50();
    await saveModel(m, out);
    return { file: out, bytes: fs.statSync(out).size };
  },
};

const fn = tasks[task];
if (!fn) {
  console.error(`unknown task ${task}; tasks: ${Object.keys(tasks).join(', ')}`);
  process.exit(2);
}
console.log(JSON.stringify(await fn(...args)));
