// The example third-party backend (examples/backend-example), loaded as a user's config
// would name it: by path here; scripts/pack-plugin-test.sh installs its tarball and
// selects it as "backend": "example" through the naming convention.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBackend, loadModel } from '@qdeploy/core';
import { quantizeModel } from '../packages/core/src/cli/pipeline/index.js';

const here = path.dirname(new URL(import.meta.url).pathname);

describe('examples/backend-example', () => {
  it('registers backend "example", folds BatchNorms without listing conversions, quantizes Conv and Linear inputs per channel', async () => {
    const backend = await loadBackend('./backend-example', { from: here });
    expect(backend.name).toBe('example');
    expect(backend.patterns.some((p) => p.kind === 'conversion')).toBe(false);
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-example-backend-')), 'model.int8.onnx');
    const r = await quantizeModel({
      model: path.join(here, '../fixtures/fmnist_resnet_bn.onnx'),
      output: out,
      backend: './backend-example',
      from: here,
      calibration: { data: path.join(here, 'fashion-mnist/data/calib_256.npy'), limit: 64 },
      progress: false,
      log: () => {},
    });
    expect(r.backend).toBe('example');
    expect(r.conversions.FoldBatchNorm).toBe(15);
    expect(r.matches).toEqual({ ConvAct: 15, Linear: 1 });
    expect(r.calibration?.method).toBe('minmax');
    const saved = loadModel(out);
    expect(saved.graph.nodesOf('BatchNormalization')).toHaveLength(0);
    expect(saved.graph.opCounts().QuantizeLinear).toBe(r.quantizers.QuantStub);
    expect(backend.check!(saved)).toEqual([]);
  });
});
