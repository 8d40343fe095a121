import type { QdeployPlugin } from '@qdeploy/core';
import { referenceBackend } from './backend.js';

/** Registers the reference backend with qdeploy (what a config's `backend: "@qdeploy/backend-reference"` loads). */
const plugin: QdeployPlugin = {
  name: '@qdeploy/backend-reference',
  register(ctx) {
    ctx.registerBackend(referenceBackend);
  },
};
export default plugin;
