/** Parsers of numeric flags for the data options (--mean, --std, --scale, --crop). */
import { InvalidArgumentError } from 'commander';

/** "0.485,0.456,0.406" (or one value) → numbers. */
export function numberList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n))) throw new InvalidArgumentError('expected numbers separated by commas.');
  return nums;
}

/** "0.00392" or "1/255" → a finite number. */
export function fraction(value: string): number {
  const m = /^\s*([-+]?[\d.eE+-]+)\s*(?:\/\s*([\d.eE+-]+)\s*)?$/.exec(value);
  const n = m ? Number(m[1]) / (m[2] !== undefined ? Number(m[2]) : 1) : NaN;
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number or a fraction such as 1/255.');
  return n;
}

/** "224" or "224,192" (height, width) → a crop size. */
export function cropSize(value: string): number | [number, number] {
  const nums = numberList(value);
  if (nums.length > 2 || nums.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new InvalidArgumentError('expected a positive integer or height,width.');
  return nums.length === 1 ? nums[0]! : [nums[0]!, nums[1]!];
}
