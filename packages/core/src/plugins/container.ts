import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import type { CalibratorFactory } from '../calibrate/calibrator.js';

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
