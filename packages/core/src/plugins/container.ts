import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import type { CalibratorFactory } from '../calibrate/calibrator.js';
import type { Backend } from './backend.js';
import type { PluginContext, QdeployPlugin } from './plugin.js';

/**
 * qdeploy's dependency-injection container. Plugins register into *this* container,
 * handed to them by core, rather than importing tsyringe's global one: a plugin
 * installed from npm may carry its own copy of tsyringe, whose global container
 * core would never see.
 */
export const qdeployContainer: DependencyContainer = rootContainer.createChildContainer();

/** Token under which a calibration method's factory is registered. */
export const calibratorToken = (method: string): string => `qdeploy:calibrator:${method}`;
/** Token under which a backend is registered. */
export const backendToken = (name: string): string => `qdeploy:backend:${name}`;

const calibratorNames = new Set<string>();

export function registerCalibrator(
  method: string,
  factory: CalibratorFactory,
  target: DependencyContainer = qdeployContainer,
): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(method)) {
    throw new Error(`registerCalibrator: invalid method name "${method}" (letters, digits, . _ - only)`);
  }
  target.register<CalibratorFactory>(calibratorToken(method), { useValue: factory });
  calibratorNames.add(method);
}

export function registeredCalibrators(): string[] {
  return [...calibratorNames].filter((m) => qdeployContainer.isRegistered(calibratorToken(m), true)).sort();
}

export function resolveCalibratorFactory(method: string, target: DependencyContainer = qdeployContainer): CalibratorFactory {
  const token = calibratorToken(method);
  if (!target.isRegistered(token, true)) {
    const known = registeredCalibrators();
    throw new Error(
      `unknown calibrator "${method}"` +
        (known.length ? ` (registered: ${known.join(', ')})` : ' (none registered: add "@qdeploy/calibrators" to plugins, or call registerCalibrator)'),
    );
  }
  return target.resolve<CalibratorFactory>(token);
}

const backendNames = new Set<string>();

export function registerBackend(backend: Backend, target: DependencyContainer = qdeployContainer): void {
  if (!backend || typeof backend.name !== 'string' || !Array.isArray(backend.patterns)) {
    throw new Error('registerBackend: a backend needs a name and a patterns array');
  }
  target.register<Backend>(backendToken(backend.name), { useValue: backend });
  backendNames.add(backend.name);
}

export function registeredBackends(): string[] {
  return [...backendNames].filter((n) => qdeployContainer.isRegistered(backendToken(n), true)).sort();
}

export function resolveBackend(name: string, target: DependencyContainer = qdeployContainer): Backend {
  const token = backendToken(name);
  if (!target.isRegistered(token, true)) {
    const known = registeredBackends();
    throw new Error(
      `unknown backend "${name}"` +
        (known.length ? ` (registered: ${known.join(', ')})` : ` (none registered: install and list a backend plugin, e.g. "@qdeploy/backend-${name}")`),
    );
  }
  return target.resolve<Backend>(token);
}

/**
 * Registers an already imported plugin with qdeploy, as a config file's `plugins` entry
 * would: `await usePlugin(calibrators)` after `import calibrators from '@qdeploy/calibrators'`.
 */
export async function usePlugin(plugin: QdeployPlugin | QdeployPlugin['register']): Promise<void> {
  const register = typeof plugin === 'function' ? plugin : plugin.register.bind(plugin);
  await register(pluginContext());
}

/** What a plugin's `register` receives; `record` (when given) collects what it registered. */
export function pluginContext(record?: { calibrators: string[]; backends: string[] }): PluginContext {
  return {
    container: qdeployContainer,
    registerCalibrator(method, factory) {
      registerCalibrator(method, factory);
      record?.calibrators.push(method);
    },
    registerBackend(backend) {
      registerBackend(backend);
      record?.backends.push(backend.name);
    },
  };
}
