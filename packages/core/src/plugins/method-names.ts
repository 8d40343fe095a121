/**
 * Calibration method names as users of the anchors write them: case does not matter
 * ("MinMax", "Entropy", "Percentile" as in onnxruntime's CalibrationMethod), and ModelOpt's
 * "max" is minmax. A name that is none of these gets a "did you mean".
 */
import { closest } from '../util/closest.js';

/** Other tools' names for the standard methods (lower case). */
export const METHOD_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  max: 'minmax',
  'min-max': 'minmax',
  min_max: 'minmax',
  kl: 'entropy',
  'kl-divergence': 'entropy',
});

/**
 * The registered (or standard) method `name` stands for: itself, a registered name that
 * differs only in case, or an alias. Unknown names come back unchanged.
 */
export function canonicalMethod(name: string, known: readonly string[]): string {
  if (known.includes(name)) return name;
  const lower = name.toLowerCase();
  const sameButCase = known.find((k) => k.toLowerCase() === lower);
  if (sameButCase) return sameButCase;
  const alias = METHOD_ALIASES[lower];
  return alias !== undefined && known.includes(alias) ? alias : name;
}

/** ` (did you mean "x"?)` for a method name close to a known one or an alias, else ''. */
export function didYouMeanMethod(name: string, known: readonly string[]): string {
  const near = closest(name, [...known, ...Object.keys(METHOD_ALIASES)]);
  if (!near) return '';
  const target = METHOD_ALIASES[near] ?? near;
  return ` (did you mean "${target}"?)`;
}
