// RFC 5798 §6.1 timer arithmetic, in centiseconds like the RFC. Callers convert to ms (×10).
// v2 (RFC 3768 §6.1) uses whole seconds and a skew of (256 - Priority) / 256 *seconds*, i.e. not
// scaled by the interval; keepalived does the same (VRRP_TIMER_SKEW), so we follow it for interop.
import type { VrrpVersion } from './types.js';

/** The one conversion from the wire's unit: centiseconds to the monotonic ms timers run in. */
export const csToMs = (cs: number): number => cs * 10;

/** Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256   (v2: (256 - Priority) / 256 s) */
export const skewTimeCs = (priority: number, masterAdverIntCs: number, version: VrrpVersion = 3): number =>
  Math.floor(((256 - priority) * (version === 3 ? masterAdverIntCs : 100)) / 256);

/** Master_Down_Interval = (3 * Master_Adver_Interval) + Skew_Time */
export const masterDownIntervalCs = (priority: number, masterAdverIntCs: number, version: VrrpVersion = 3): number =>
  3 * masterAdverIntCs + skewTimeCs(priority, masterAdverIntCs, version);
