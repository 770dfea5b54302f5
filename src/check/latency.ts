// Latency-aware weight factor. Pure. An EWMA of check latency maps linearly from 1 (at or below
// good_ms) down to min_percent (at or above bad_ms); the applied factor moves only when the
// target differs by at least hysteresis_percent, or reaches a bound, so weights do not flap.
import type { LatencyWeightConfig } from './types.js';

export interface LatencyState {
  readonly ewmaMs: number | undefined;
  /** The factor in force, 0..1. */
  readonly factor: number;
}

export const INITIAL_LATENCY: LatencyState = { ewmaMs: undefined, factor: 1 };

export function targetFactor(ewmaMs: number, c: LatencyWeightConfig): number {
  const min = c.minPercent / 100;
  if (ewmaMs <= c.goodMs) return 1;
  if (ewmaMs >= c.badMs) return min;
  const f = 1 - ((ewmaMs - c.goodMs) / (c.badMs - c.goodMs)) * (1 - min);
  return Math.round(f * 100) / 100;
}

export function addSample(s: LatencyState, sampleMs: number, c: LatencyWeightConfig): LatencyState {
  const ewmaMs = s.ewmaMs === undefined ? sampleMs : c.alpha * sampleMs + (1 - c.alpha) * s.ewmaMs;
  const t = targetFactor(ewmaMs, c);
  const atBound = t === 1 || t === c.minPercent / 100;
  const moved = Math.abs(t - s.factor) * 100 >= c.hysteresisPercent;
  return { ewmaMs, factor: t !== s.factor && (moved || atBound) ? t : s.factor };
}
