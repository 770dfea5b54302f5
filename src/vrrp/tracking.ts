// Tracked interfaces and scripts -> priority delta and fault, keepalived's rules. Pure.

export interface Tracker {
  /** 'interface:eth1' or 'script:chk_nginx'. */
  id: string;
  /** 0: fault when down. >0: added while up. <0: added while down. */
  weight: number;
  up: boolean;
}

export interface TrackingResult {
  delta: number;
  fault: boolean;
  /** Trackers currently changing priority or causing fault, for status and logs. */
  effects: { id: string; effect: number | 'fault' }[];
}

export function evaluateTracking(trackers: readonly Tracker[]): TrackingResult {
  let delta = 0;
  let fault = false;
  const effects: TrackingResult['effects'] = [];
  for (const t of trackers) {
    if (t.weight === 0) {
      if (!t.up) { fault = true; effects.push({ id: t.id, effect: 'fault' }); }
    } else if (t.weight > 0 ? t.up : !t.up) {
      delta += t.weight;
      effects.push({ id: t.id, effect: t.weight });
    }
  }
  return { delta, fault, effects };
}

/** rise/fall hysteresis for a script: `up` flips only after `rise` successes or `fall` failures in a row. */
export interface RiseFall { up: boolean; streak: number }

export function riseFall(s: RiseFall, ok: boolean, rise: number, fall: number): RiseFall {
  if (ok === s.up) return { up: s.up, streak: 0 };
  const streak = s.streak + 1;
  return streak >= (ok ? rise : fall) ? { up: ok, streak: 0 } : { up: s.up, streak };
}
