import type { QdeployPlugin } from '@qdeploy/core';
import { tensorrtBackend } from './backend.js';

/** Registers the TensorRT backend with qdeploy (what a config's `backend: "@qdeploy/backend-tensorrt"` loads). */
const plugin: QdeployPlugin = {
  name: '@qdeploy/backend-tensorrt',
  register(ctx) {
    ctx.registerBackend(tensorrtBackend);
  },
};
export default plugin;
