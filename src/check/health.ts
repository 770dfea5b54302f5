// One check's health from its results: rise/fall counting, pure. A check starts 'unknown', which
// counts as healthy (as in keepalived: a starting node serves with the configured table). One
// success makes it 'up' at once; it goes 'down' only after `fall` failures in a row, so a slow
// first check (a cold process, a TLS handshake) does not pull a healthy server. After that,
// `rise` successes in a row bring a failed server back.
import type { AgentAnswer, CheckResult } from './types.js';

export type Health = 'unknown' | 'up' | 'down';

export interface CheckState {
  readonly health: Health;
  /** Successes in a row (while down) / failures in a row (while up). */
  readonly okRun: number;
  readonly failRun: number;
  /** Last result. */
  readonly reason: string;
  readonly latencyMs: number | undefined;
  /** exec dynamic: the weight the script asked for with its last healthy result. */
  readonly weight: number | undefined;
  /** agent: its last answer. */
  readonly agent: AgentAnswer | undefined;
  /** file: what its last healthy result adds to the server's weight. */
  readonly weightOffset: number | undefined;
  readonly checks: number;
  readonly failures: number;
}

export const INITIAL_CHECK_STATE: CheckState = {
  health: 'unknown', okRun: 0, failRun: 0, reason: 'not checked yet', latencyMs: undefined, weight: undefined, agent: undefined, weightOffset: undefined, checks: 0, failures: 0,
};

export interface HealthTransition {
  readonly from: Health;
  readonly to: Health;
  readonly reason: string;
}

export interface Counts {
  readonly rise: number;
  readonly fall: number;
}

export function applyResult(s: CheckState, r: CheckResult, c: Counts): { state: CheckState; transition?: HealthTransition } {
  const okRun = r.ok ? s.okRun + 1 : 0;
  const failRun = r.ok ? 0 : s.failRun + 1;
  let health = s.health;
  if (s.health === 'unknown') health = r.ok ? 'up' : failRun >= c.fall ? 'down' : 'unknown';
  else if (s.health === 'up' && failRun >= c.fall) health = 'down';
  else if (s.health === 'down' && okRun >= c.rise) health = 'up';
  const state: CheckState = {
    health,
    okRun,
    failRun,
    reason: r.reason,
    latencyMs: r.latencyMs,
    weight: r.ok ? r.weight : s.weight,
    agent: r.ok ? r.agent : undefined,
    weightOffset: r.ok ? r.weightOffset : s.weightOffset,
    checks: s.checks + 1,
    failures: s.failures + (r.ok ? 0 : 1),
  };
  if (health === s.health) return { state };
  const why = r.ok ? `${r.reason} (${okRun} in a row)` : `${r.reason} (${failRun} in a row)`;
  return { state, transition: { from: s.health, to: health, reason: s.health === 'unknown' && r.ok ? `first check: ${r.reason}` : why } };
}

/** ms to the next run: retry sooner while a healthy check is failing towards `fall`. */
export function nextDelay(s: CheckState, t: { intervalMs: number; retryDelayMs: number }): number {
  return s.health !== 'down' && s.failRun > 0 ? t.retryDelayMs : t.intervalMs;
}
