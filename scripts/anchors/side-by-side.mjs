#!/usr/bin/env node
// PyTorch's fake-quant QAT step next to qdeploy's, per model and thread count: alternates
// the two frameworks' processes (torch, qdeploy, torch, qdeploy, ... `rounds` times each)
// so that load from other work on a shared machine falls on both, then prints a markdown
// table of the medians over rounds (each process reports medians of its own runs) and of
// the fastest round.
//   torch:   scripts/anchors/torch_qat_step.py on the folder dump-qdq-graph.mjs writes
//            (fixed and learned activation scales; contiguous and channels_last for CNNs)
//   qdeploy: scripts/bench/qat.mjs <model> 32 <runs> 0, learned scales (its default) and
//            fixed (QDEPLOY_BENCH_LEARN_SCALES=0); 1 thread: intraOpNumThreads 1 (one session);
//            2 threads: its defaults (a data-parallel worker per core; inference with
//            onnxruntime's default threads).
// Usage: node scripts/anchors/side-by-side.mjs [--models resnet,mobilenet,vit_small] [--threads 1,2]
//   [--rounds 2] [--runs 15] [--dumps /tmp/qdeploy-anchor] [--raw results.jsonl (every process's line, appended)]
//   or: node scripts/anchors/side-by-side.mjs --summarize a.jsonl,b.jsonl (the table of earlier --raw files, nothing run)
// The Python that has torch: $TORCH_PYTHON (default python3). Needs a build (npm run build)
// and ../shared/fixtures (or $QDEPLOY_FIXTURES).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, x, i, all) => (x.startsWith('--') ? [...a, [x.slice(2), all[i + 1]]] : a), []));
const here = import.meta.dirname;
const fixtures = process.env.QDEPLOY_FIXTURES ?? path.resolve(here, '../../../shared/fixtures');
const python = process.env.TORCH_PYTHON ?? 'python3';
const models = (args.models ?? 'resnet,mobilenet,vit_small').split(',');
const threadCounts = (args.threads ?? '1,2').split(',').map(Number);
const rounds = Number(args.rounds ?? 2);
const runs = args.runs ?? '15';
const dumps = args.dumps ?? '/tmp/qdeploy-anchor';
const CNNS = new Set(['resnet', 'mobilenet']);
const checks = new Map();
const record = (r) => {
  if (args.raw) fs.appendFileSync(args.raw, `${JSON.stringify({ ...r, at: new Date().toISOString() })}\n`);
  return r;
};

/** Runs a command and returns its stdout's JSON lines. */
function jsonLines(cmd, argv, env = {}) {
  const out = execFileSync(cmd, argv, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

/** The dump folder for a model, written once. */
function dumpOf(model) {
  const dir = path.join(dumps, model);
  if (!fs.existsSync(path.join(dir, 'graph.json'))) {
    execFileSync('node', [path.join(here, 'dump-qdq-graph.mjs'), path.join(fixtures, `fmnist_${model}.onnx`), dir, '32'], { stdio: 'inherit' });
  }
  return dir;
}

function torchRun(model, threads) {
  const formats = CNNS.has(model) ? 'contiguous,channels_last' : 'contiguous';
  return jsonLines(python, [path.join(here, 'torch_qat_step.py'), dumpOf(model), '--threads', String(threads), '--runs', runs, '--formats', formats]);
}

function qdeployRun(model, threads, learnScales) {
  const env = { QDEPLOY_BENCH_LEARN_SCALES: learnScales ? '1' : '0', QDEPLOY_BENCH_SESSION: threads === 1 ? '{"intraOpNumThreads":1}' : '{}' };
  const [r] = jsonLines('node', [path.resolve(here, '../bench/qat.mjs'), path.join(fixtures, `fmnist_${model}.onnx`), '32', runs, '0'], env);
  return { ...r, model, framework: 'qdeploy', threads, scales: learnScales ? 'learned' : 'fixed', format: threads === 1 ? 'one session, 1 thread' : 'default: worker per core' };
}

const median = (a) => [...a].sort((p, r) => p - r)[Math.floor(a.length / 2)];
/** Median over rounds of each (model, threads, framework, format, scales) configuration's inferMs and stepMs, and the fastest round. */
function summarize(results) {
  const groups = new Map();
  for (const r of results) {
    const key = [r.model, r.threads, r.framework, r.format, r.scales].join('|');
    if (!groups.has(key)) groups.set(key, { ...r, infer: [], step: [] });
    groups.get(key).infer.push(r.inferMs);
    groups.get(key).step.push(r.stepMs);
  }
  return [...groups.values()].map((g) => ({ ...g, inferMs: median(g.infer), stepMs: median(g.step), bestInferMs: Math.min(...g.infer), bestStepMs: Math.min(...g.step) }));
}

const fmt = (x) => x.toFixed(1);
// Load from other processes only adds time, so the fastest round is shown too.
function printTable(results) {
  console.log('| model | threads | framework | format | activation scales | inference ms | step ms | step / inference | best inference ms | best step ms | best step / best inference | rounds |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of summarize(results)) {
    const cells = [r.model, r.threads, r.framework, r.format, r.scales, fmt(r.inferMs), fmt(r.stepMs), (r.stepMs / r.inferMs).toFixed(2), fmt(r.bestInferMs), fmt(r.bestStepMs), (r.bestStepMs / r.bestInferMs).toFixed(2), r.infer.length];
    console.log(`| ${cells.join(' | ')} |`);
  }
}

/** Every round of every configuration, torch and qdeploy alternating. */
function measureAll() {
  const results = [];
  for (const model of models) {
    dumpOf(model);
    for (const threads of threadCounts) {
      for (let round = 0; round < rounds; round++) {
        for (const r of torchRun(model, threads)) {
          if (r.check) checks.set(model, r.check);
          else results.push(record(r));
        }
        results.push(record(qdeployRun(model, threads, true)));
        results.push(record(qdeployRun(model, threads, false)));
      }
    }
  }
  return results;
}

/** The result lines of earlier runs' --raw files (comma-separated); qat.mjs names the model by its file. */
function readRaw(files) {
  const lines = files.split(',').flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
  return lines.map((r) => ({ ...r, model: r.model.replace(/^fmnist_|\.onnx$/g, '') }));
}

if (args.summarize) {
  printTable(readRaw(args.summarize));
} else {
  printTable(measureAll());
  console.log('\nThe torch module vs onnxruntime on the first 32 test images (max |Δ| / max |onnxruntime|):');
  for (const [model, c] of checks) console.log(`${model}: ${JSON.stringify(c)}`);
}
