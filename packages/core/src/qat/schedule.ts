/**
 * Learning-rate schedules: linear warm-up from 0, then constant or cosine decay to
 * `minLr` over the remaining steps (torch's CosineAnnealingLR after a LinearLR warm-up).
 */
export interface ScheduleSpec {
  type?: 'constant' | 'cosine';
  /** Steps of linear warm-up (default 0). */
  warmupSteps?: number;
  /** Final learning rate of the cosine (default 0). */
  minLr?: number;
}

export type LrSchedule = (step: number) => number;

/** The learning rate before update number `step` (0-based) of `totalSteps`. */
export function lrSchedule(lr: number, totalSteps: number, spec: ScheduleSpec = {}): LrSchedule {
  const warmup = spec.warmupSteps ?? 0;
  const minLr = spec.minLr ?? 0;
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`lr must be a positive number, got ${lr}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`schedule.warmupSteps must be a non-negative integer, got ${warmup}`);
  if (!(minLr >= 0) || minLr > lr) throw new Error(`schedule.minLr must be in [0, lr], got ${minLr}`);
  const type = spec.type ?? 'constant';
  if (type !== 'constant' && type !== 'cosine') throw new Error(`schedule.type must be "constant" or "cosine", got ${JSON.stringify(type)}`);
  return (step) => {
    if (step < warmup) return (lr * (step + 1)) / (warmup + 1);
    if (type === 'constant') return lr;
    const span = Math.max(1, totalSteps - warmup);
    const t = Math.min(1, (step - warmup) / span);
    return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t));
  };
}
