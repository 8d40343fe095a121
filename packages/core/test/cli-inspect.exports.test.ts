// `qdeploy inspect --explain` on the real torchvision EfficientNet-B0 export (../shared/fixtures).
import { beforeAll, describe, it } from 'vitest';
import { requireBuilt } from './fixtures/cli/helpers.js';
import { checkInspectExplain } from './fixtures/cli/inspect-explain.js';
import { shared } from './helpers/fixtures.js';

beforeAll(() => requireBuilt());

describe('qdeploy inspect on the real EfficientNet-B0 export', () => {
  it('--explain says why nodes were left unmatched (a Sigmoid·x that is not a SiLU of a conv)', () => checkInspectExplain(shared('efficientnet_b0_bn.onnx')));
});
