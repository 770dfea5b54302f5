// What one real server contributes to the desired table, from its checks' states. Pure.
//
// Order of effects: failed (any check down) → removed, or weight 0 with inhibit_on_failure;
// agent says down/maint → as failed; drain → 0; exec dynamic weight replaces the configured
// one; file checks add to it (0 stays 0: drained); agent percentage scales it; latency factor scales it; slow start ramps it after a recovery.
// A weight the scaling brings below 1 stays 1: a healthy server keeps some traffic.
import type { CheckState } from './health.js';

export type Verdict = number | 'remove';

export interface WeightInputs {
  readonly configured: number;
  readonly inhibitOnFailure: boolean;
  readonly checks: readonly CheckState[];
  /** 0..1 from the latency EWMA; 1 without latency weighting. */
  readonly latencyFactor: number;
  /** When the server last came back up (slow start), or undefined. */
  readonly upSinceMs: number | undefined;
  readonly slowStartMs: number;
  readonly nowMs: number;
}

export interface WeightVerdict {
  readonly verdict: Verdict;
  readonly reason: string;
}

export function serverVerdict(i: WeightInputs): WeightVerdict {
  const down = i.checks.find((c) => c.health === 'down');
  const failed = (why: string): WeightVerdict => (i.inhibitOnFailure ? { verdict: 0, reason: `${why}, inhibited` } : { verdict: 'remove', reason: why });
  if (down) return failed(`check failed: ${down.reason}`);
  const agent = i.checks.find((c) => c.agent !== undefined)?.agent;
  if (agent?.kind === 'down' || agent?.kind === 'maint') return failed(`agent: ${agent.kind}`);
  if (agent?.kind === 'drain') return { verdict: 0, reason: 'agent: drain' };
  if (i.configured === 0) return { verdict: 0, reason: 'configured weight 0' };

  const reasons: string[] = [];
  let w = i.configured;
  const dynamic = i.checks.find((c) => c.weight !== undefined)?.weight;
  if (dynamic !== undefined) {
    w = dynamic;
    reasons.push(`exec weight ${dynamic}`);
  }
  // keepalived track_file: each file check's value * weight adds to the weight, which stays in 0..65535.
  let offset = 0;
  for (const c of i.checks) offset += c.weightOffset ?? 0;
  if (offset !== 0) {
    w = Math.min(65535, Math.max(0, w + offset));
    reasons.push(`file ${offset > 0 ? '+' : ''}${offset}`);
    if (w === 0) return { verdict: 0, reason: reasons.join(', ') };
  }
  if (agent?.kind === 'percent') {
    w = scale(w, agent.percent / 100);
    reasons.push(`agent ${agent.percent}%`);
  }
  if (i.latencyFactor < 1) {
    w = scale(w, i.latencyFactor);
    reasons.push(`latency x${i.latencyFactor.toFixed(2)}`);
  }
  if (i.upSinceMs !== undefined && i.slowStartMs > 0) {
    const f = (i.nowMs - i.upSinceMs) / i.slowStartMs;
    if (f < 1) {
      w = scale(w, Math.max(0, f));
      reasons.push(`slow start ${Math.round(Math.max(0, f) * 100)}%`);
    }
  }
  return { verdict: w, reason: reasons.length ? reasons.join(', ') : 'healthy' };
}

/** Scale a weight; a positive weight never scales to 0 (that would drain a healthy server). */
function scale(w: number, f: number): number {
  if (w === 0) return 0;
  return Math.min(65535, Math.max(1, Math.round(w * f)));
}

/** Healthy weight of a service, for quorum: the sum of the weights of servers in the table. */
export function healthyWeight(verdicts: Iterable<Verdict>): number {
  let sum = 0;
  for (const v of verdicts) if (v !== 'remove') sum += v;
  return sum;
}

/**
 * keepalived's quorum with hysteresis: lost below quorum - hysteresis, regained at
 * quorum + hysteresis, unchanged in between.
 */
export function quorumUp(wasUp: boolean, healthy: number, q: { quorum: number; hysteresis: number }): boolean {
  if (wasUp) return healthy >= q.quorum - q.hysteresis;
  return healthy >= q.quorum + q.hysteresis;
}
