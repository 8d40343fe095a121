import type { CalibratorState } from '@qdeploy/core';

/** Version of the serialised state written by every calibrator in this package. */
export const STATE_VERSION = 1;

/** Check that `state` is one this calibrator can merge: same method, known version. */
export function checkState(state: unknown, method: string): CalibratorState {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new Error(`${method} calibrator: merge expects a calibrator state object`);
  }
  const s = state as Partial<CalibratorState>;
  if (s.method !== method) {
    throw new Error(
      `${method} calibrator: cannot merge a state collected by method ${JSON.stringify(s.method)}; ` +
        `states can only be merged between calibrators of the same method`,
    );
  }
  if (s.version !== STATE_VERSION) {
    throw new Error(
      `${method} calibrator: unsupported state version ${JSON.stringify(s.version)} (this build reads version ${STATE_VERSION})`,
    );
  }
  return s as CalibratorState;
}
