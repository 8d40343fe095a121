import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import type { CalibratorFactory } from '../calibrate/calibrator.js';
import type { Backend } from './backend.js';
import { canonicalMethod, didYouMeanMethod } from './method-names.js';
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

/**
 * One kind of named entry in the container (calibration methods, backends): registers
 * under a token, lists what is registered, resolves by name with an error that lists the
 * known names, or says how to get some when there are none.
 */
class NamedRegistry<T> {
  private readonly names = new Set<string>();

  constructor(
    private readonly token: (name: string) => string,
    private readonly kind: string,
    private readonly noneHint: (name: string) => string,
  ) {}

  register(name: string, value: T, target: DependencyContainer): void {
    target.register<T>(this.token(name), { useValue: value });
    this.names.add(name);
  }

  registered(): string[] {
    return [...this.names].filter((n) => qdeployContainer.isRegistered(this.token(n), true)).sort();
  }

  resolve(name: string, target: DependencyContainer, suggest: (name: string, known: string[]) => string = () => ''): T {
    const token = this.token(name);
    if (!target.isRegistered(token, true)) {
      const known = this.registered();
      throw new Error(`unknown ${this.kind} "${name}"` + (known.length ? ` (registered: ${known.join(', ')})${suggest(name, known)}` : ` (none registered: ${this.noneHint(name)})`));
    }
    return target.resolve<T>(token);
  }
}

const calibrators = new NamedRegistry<CalibratorFactory>(calibratorToken, 'calibrator', () => 'add "@qdeploy/calibrators" to plugins, or call registerCalibrator');
const backends = new NamedRegistry<Backend>(backendToken, 'backend', (name) => `install and list a backend plugin, e.g. "@qdeploy/backend-${name}"`);

export function registerCalibrator(
  method: string,
  factory: CalibratorFactory,
  target: DependencyContainer = qdeployContainer,
): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(method)) {
    throw new Error(`registerCalibrator: invalid method name "${method}" (letters, digits, . _ - only)`);
  }
  calibrators.register(method, factory, target);
}

export function registeredCalibrators(): string[] {
  return calibrators.registered();
}

export function resolveCalibratorFactory(method: string, target: DependencyContainer = qdeployContainer): CalibratorFactory {
  // "MinMax", "max", "Entropy": the names other tools use resolve too.
  return calibrators.resolve(canonicalMethod(method, calibrators.registered()), target, didYouMeanMethod);
}

export function registerBackend(backend: Backend, target: DependencyContainer = qdeployContainer): void {
  if (!backend || typeof backend.name !== 'string' || !Array.isArray(backend.patterns)) {
    throw new Error('registerBackend: a backend needs a name and a patterns array');
  }
  backends.register(backend.name, backend, target);
}

export function registeredBackends(): string[] {
  return backends.registered();
}

export function resolveBackend(name: string, target: DependencyContainer = qdeployContainer): Backend {
  return backends.resolve(name, target);
}

/**
 * Registers an already imported plugin with qdeploy, as a config file's `plugins` entry
 * would: `await usePlugin(calibrators)` after `import calibrators from '@qdeploy/calibrators'`.
 */
export async function usePlugin(plugin: QdeployPlugin | QdeployPlugin['register'] | { default: QdeployPlugin | QdeployPlugin['register'] }): Promise<void> {
  // A module namespace (`require('@qdeploy/calibrators')` from CommonJS) stands for its default export.
  if (typeof plugin === 'object' && !('register' in plugin) && 'default' in plugin) plugin = plugin.default;
  const register = typeof plugin === 'function' ? plugin : (plugin as QdeployPlugin).register.bind(plugin);
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
