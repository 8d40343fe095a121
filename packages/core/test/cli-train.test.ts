// `qdeploy train` and the qat section of `qdeploy run`: a QAT run end to end on the
// vendored ResNet, its checkpoint, Ctrl-C keeping the last complete one, --resume, and the
// export passing `qdeploy check` with the PTQ placement.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkModel } from '../src/cli/pipeline/index.js';
import { decodeCheckpoint } from '../src/qat/checkpoint.js';
import { writeNpy } from '../src/calibrate/data/npy.js';
import { CALIB_32, EVAL_X, EVAL_Y, RESNET_BN, makeTmp, requireBuilt, runCli, writeUnder } from './fixtures/cli/helpers.js';

let tmp: string;
beforeAll(() => {
  requireBuilt();
  tmp = makeTmp('train');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// 100 labelled images at batch 25: 4 steps an epoch.
const TRAIN = ['--data', EVAL_X, '--labels', EVAL_Y, '--qat-batch-size', '25', '--calib', CALIB_32];
const ENV = { timeoutMs: 180_000 };

const placement = async (file: string) => (await checkModel(file)).findings.map((f) => `${f.severity} ${f.code} ${f.node ?? ''}`).sort();

describe('qdeploy train', () => {
  it('trains, checkpoints each epoch, and writes a QDQ model with the PTQ placement', async () => {
    const out = path.join(tmp, 'a/resnet.qat.onnx');
    const r = await runCli(['train', RESNET_BN, '-o', out, ...TRAIN, '--epochs', '1', '--lr', '1e-4'], ENV);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/QAT epoch 1: loss \d+\.\d+, train top-1 \d+\.\d+%, \d+ samples\/s; checkpoint .*resnet\.qat\.onnx\.qat\/qat-checkpoint\.bin/);
    expect(r.stdout).toMatch(/QAT\s+cross-entropy, adamw, 1 epoch: last epoch loss/);
    expect(r.stdout).toMatch(/, \d+ workers?\)/); // how many depends on the cores (batch 25 splits only by 5)
    // Training has its own time; calibrate is calibration alone.
    expect(r.stdout).toMatch(/time .*calibrate [\d.]+ m?s, train [\d.]+ m?s, save/);
    const ckpt = decodeCheckpoint(fs.readFileSync(`${out}.qat/qat-checkpoint.bin`), 'ckpt');
    expect(ckpt.epoch).toBe(1);
    expect(ckpt.steps).toBe(4);
    expect(ckpt.scales.size).toBeGreaterThan(0); // learned activation scales: the default recipe
    const ptq = path.join(tmp, 'a/resnet.ptq.onnx');
    expect((await runCli(['quantize', RESNET_BN, '-o', ptq, '--calib', CALIB_32], ENV)).code).toBe(0);
    const check = await runCli(['check', out]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/0 errors/);
    expect(await placement(out)).toEqual(await placement(ptq));

    // --resume continues after epoch 1.
    const again = await runCli(['train', RESNET_BN, '-o', out, ...TRAIN, '--epochs', '2', '--resume'], ENV);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/2 epochs \(resumed after epoch 1\)/);
    expect(again.stderr).not.toMatch(/QAT epoch 1:/);
    expect(decodeCheckpoint(fs.readFileSync(`${out}.qat/qat-checkpoint.bin`), 'ckpt').epoch).toBe(2);
  }, 240_000);

  it('a bad training file fails before calibration, naming it', async () => {
    // Calibration data of the wrong shape would fail calibration: the labels must fail first.
    const wrongCalib = path.join(tmp, 'e/calib_wrong.npy');
    fs.mkdirSync(path.dirname(wrongCalib), { recursive: true });
    writeNpy(wrongCalib, new Float32Array(2 * 3 * 5 * 5), [2, 3, 5, 5]);
    const missing = path.join(tmp, 'e/no_labels.npy');
    const r = await runCli(['train', RESNET_BN, '-o', path.join(tmp, 'e/out.onnx'), '--data', EVAL_X, '--labels', missing, '--calib', wrongCalib]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${missing}: cannot open .npy file`);
    const short = path.join(tmp, 'e/labels_3.npy');
    writeNpy(short, new Int32Array(3), [3]);
    const s = await runCli(['train', RESNET_BN, '-o', path.join(tmp, 'e/out.onnx'), '--data', EVAL_X, '--labels', short, '--calib', wrongCalib]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain('labels_3.npy');
    // Fewer samples than one batch (the default 16): said before calibration, with the option to change.
    const [few, fewLabels] = [path.join(tmp, 'e/x_8.npy'), path.join(tmp, 'e/y_8.npy')];
    writeNpy(few, new Float32Array(8 * 784), [8, 1, 28, 28]);
    writeNpy(fewLabels, new Int32Array(8), [8]);
    const t = await runCli(['train', RESNET_BN, '-o', path.join(tmp, 'e/out.onnx'), '--data', few, '--labels', fewLabels, '--calib', wrongCalib]);
    expect(t.code).toBe(2);
    expect(t.stderr).toContain('x_8.npy: 8 samples do not fill one training batch of 16 (set a smaller QAT batch size: --qat-batch-size');
    expect(fs.existsSync(path.join(tmp, 'e/out.onnx'))).toBe(false);
  }, 60_000);

  it('Ctrl-C during an epoch keeps the last complete checkpoint and no temporary file', async () => {
    const out = path.join(tmp, 'b/resnet.qat.onnx');
    let sent = false;
    const r = await runCli(['train', RESNET_BN, '-o', out, ...TRAIN, '--epochs', '50', '--no-learn-scales', '--learn-weight-scales', '--weight-scale-init', 'mse', '--ema-decay', '0.9'], {
      ...ENV,
      onStderr: (chunk, child) => {
        if (!sent && /QAT epoch 1:/.test(chunk)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted \(SIGINT\); .*qat-checkpoint\.bin was already written in full/);
    const dir = `${out}.qat`;
    expect(fs.readdirSync(dir)).toEqual(['qat-checkpoint.bin']);
    const ckpt = decodeCheckpoint(fs.readFileSync(path.join(dir, 'qat-checkpoint.bin')), 'ckpt');
    expect(ckpt.epoch).toBeGreaterThanOrEqual(1);
    expect(ckpt.scales.size).toBe(0); // --no-learn-scales: the calibrated scales stay constants
    expect(ckpt.weightScales.size).toBeGreaterThan(0); // --learn-weight-scales
    expect(ckpt.average!.updates).toBe(ckpt.steps); // --ema-decay: the moving average of the weights
    expect(ckpt.average!.values.size).toBe(ckpt.params.size + ckpt.weightScales.size);
    expect(fs.existsSync(out)).toBe(false);
  }, 240_000);

  it('qdeploy run trains when the config has a qat section; bad qat settings are named', async () => {
    const cfg = writeUnder(tmp, 'c/qdeploy.config.json', JSON.stringify({
      model: RESNET_BN,
      output: 'out/resnet.qat.onnx',
      backend: 'tensorrt',
      calibration: { data: CALIB_32 },
      qat: { data: EVAL_X, loss: 'distillation', temperature: 2, epochs: 1, batchSize: 25, optimizer: 'sgd', lr: 1e-3, checkpointDir: 'ckpt', workers: 5, learnWeightScales: true, weightScaleLrFactor: 0.5, emaDecay: 0.99 },
    }));
    const r = await runCli(['run', '-c', cfg], ENV);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/QAT\s+distillation, sgd, 1 epoch\b.*, 5 workers\)/);
    const ckpt = decodeCheckpoint(fs.readFileSync(path.join(tmp, 'c/ckpt/qat-checkpoint.bin')), 'ckpt');
    expect(ckpt.weightScales.size).toBeGreaterThan(0);
    expect(ckpt.average!.updates).toBe(ckpt.steps); // emaDecay
    expect(fs.existsSync(path.join(tmp, 'c/out/resnet.qat.onnx'))).toBe(true);
    const bad = writeUnder(tmp, 'd/qdeploy.config.json', JSON.stringify({ model: RESNET_BN, output: 'o.onnx', backend: 'tensorrt', qat: { data: EVAL_X, epochs: 0, emaDecay: 1 } }));
    const e = await runCli(['run', '-c', bad]);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/qat\.epochs: expected a positive integer, got 0/);
    expect(e.stderr).toMatch(/qat\.emaDecay: expected a number in \[0, 1\), got 1/);
  }, 240_000);
});
