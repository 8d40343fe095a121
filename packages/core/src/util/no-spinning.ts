/**
 * onnxruntime session options for sessions that run by turns (a model and its reference,
 * a student and its teacher): after a run, a session's idle threads spin-wait for more
 * work, and on a machine with few cores they took the cores from the other session's next
 * run. Measured on 2 cores: `evaluate` of the fmnist ResNet against its FP32 reference
 * (2000 images) 7.6–8.3 → 5.1–5.2 s; a QAT distillation step 224 → 175–190 ms. A QAT
 * step's session never spins either: between its runs the optimizer update runs in
 * JavaScript, and a spinning thread took its core (ResNet cross-entropy step, 2 threads,
 * one process each: 143–286 ms spinning, 144–156 ms not). An inference session alone
 * keeps spinning, which its many small ops gain from.
 */
export const NO_SPINNING = { session: { intra_op: { allow_spinning: '0' } } };
