// Restart hand-off (pure): `duet restart` stops a master without giving mastership away (no
// priority-0 advert, VIPs, IPVS table and sync daemon left in the kernel) and leaves a marker in
// the state directory; the next run reads it once and resumes as master if it is in time, i.e.
// before the peer's Master_Down_Timer, restarted by the last advert, could run out. Late, or with
// the instance changed in between, it starts as a fresh node would (backup first).
import type { InstanceConfig } from '../config/schema.js';
import type { Override } from '../control/views.js';
import { csToMs } from '../vrrp/timers.js';

export interface RestartMarker {
  version: 1;
  /** Wall-clock ms when the old run stopped. */
  at: number;
  /** Instances that were master, by name: what identifies them and when they last advertised. */
  instances: Record<string, MarkedInstance>;
}

export interface MarkedInstance {
  vrid: number;
  interface: string;
  family: 4 | 6;
  version: 2 | 3;
  advertIntMs: number;
  /** Wall-clock ms of the last advert the old run sent. */
  lastAdvertAt: number;
}

export const markInstance = (ic: InstanceConfig, lastAdvertAt: number): MarkedInstance => ({
  // The marker is a file another run reads: it keeps its own unit (ms), converted here only.
  vrid: ic.vrid, interface: ic.interface, family: ic.family, version: ic.version, advertIntMs: csToMs(ic.adverIntCs), lastAdvertAt,
});

/**
 * How long after the last advert a new run may still resume. The peer waits at least
 * 3 × Advertisement_Interval (plus its skew) without adverts before it takes over; half an
 * interval is kept back for the new run's first advert to reach it.
 */
export const resumeWindowMs = (advertIntMs: number): number => 3 * advertIntMs - advertIntMs / 2;

export type ResumeDecision = { resume: true } | { resume: false; why: string };

/** May this instance start as master, carrying on from the marked run? */
export function decideResume(ic: InstanceConfig, marker: RestartMarker | undefined, override: Override | undefined, wallNow: number): ResumeDecision {
  const m = marker?.instances[ic.name];
  if (!m) return { resume: false, why: marker ? 'was not master' : 'no restart marker' };
  if (m.vrid !== ic.vrid || m.interface !== ic.interface || m.family !== ic.family || m.version !== ic.version) {
    return { resume: false, why: 'instance changed since the restart' };
  }
  // An operator who asked this node not to be master keeps that wish across the restart.
  if (override && (override.mode === 'failover' || override.mode === 'maintenance')) return { resume: false, why: `operator ${override.mode}` };
  const elapsed = wallNow - m.lastAdvertAt;
  // A clock step backwards shows as a negative age: not evidence of being in time.
  if (elapsed < 0) return { resume: false, why: 'wall clock went backwards' };
  // The window the peer gives is from the interval the old run advertised, but never longer than
  // this config's: the marker is a file, and a forged one must not stretch the window.
  const window = resumeWindowMs(Math.min(m.advertIntMs, csToMs(ic.adverIntCs)));
  if (elapsed > window) return { resume: false, why: `too late: ${elapsed} ms since the last advert, window ${window} ms` };
  return { resume: true };
}

/** A marker read from disk, or undefined if it is not one (a corrupt marker only costs the resume). */
export function parseMarker(text: string): RestartMarker | undefined {
  let v: unknown;
  try { v = JSON.parse(text); } catch { return undefined; }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Partial<RestartMarker>;
  if (o.version !== 1 || typeof o.at !== 'number' || typeof o.instances !== 'object' || o.instances === null) return undefined;
  for (const m of Object.values(o.instances)) {
    const x = m as Partial<MarkedInstance>;
    if (typeof x.vrid !== 'number' || typeof x.interface !== 'string' || (x.family !== 4 && x.family !== 6) || (x.version !== 2 && x.version !== 3)
      || typeof x.advertIntMs !== 'number' || typeof x.lastAdvertAt !== 'number') return undefined;
  }
  return o as RestartMarker;
}
