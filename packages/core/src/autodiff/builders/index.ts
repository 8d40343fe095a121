// One file per op family; importing registers the builders.
import './activations.js';
import './arithmetic.js';
import './conv.js';
import './fake-quant.js';
import './linear.js';
import './non-differentiable.js';
import './reduce.js';
import './shape-ops.js';
import './softmax.js';
import './unary.js';
import './conv-transpose.js';
import './normalization.js';
import './pooling.js';
import './resize.js';
