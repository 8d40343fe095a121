import type { DependencyContainer } from 'tsyringe';
import type { CalibratorFactory } from '../calibrate/calibrator.js';
import type { Backend } from './backend.js';

/** What core hands a plugin when it loads it. */
export interface PluginContext {
  container: DependencyContainer;
  registerCalibrator(method: string, factory: CalibratorFactory): void;
  registerBackend(backend: Backend): void;
}

/**
 * A plugin is an npm package or a local module whose default export is one of these
 * (or a bare `register` function). Core imports it by name and calls `register`.
 */
export interface QdeployPlugin {
  name: string;
  register(ctx: PluginContext): void | Promise<void>;
}
