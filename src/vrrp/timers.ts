// RFC 5798 §6.1 timer arithmetic. The wire carries centiseconds; the timers run in monotonic ms.
// Skew_Time is computed to the microsecond, as keepalived does (VRRP_TIMER_SKEW works in µs and
// truncates to whole µs): a skew in whole centiseconds would be 0 for every backup at 10 ms adverts,
// so backups of different priority would expire together.
// v2 (RFC 3768 §6.1) uses whole seconds and a skew of (256 - Priority) / 256 *seconds*, i.e. not
// scaled by the interval; keepalived does the same, so we follow it for interop.
import type { VrrpVersion } from './types.js';

/** The one conversion from the wire's unit: centiseconds to the monotonic ms timers run in. */
export const csToMs = (cs: number): number => cs * 10;

/**
 * Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256, in ms to the µs (truncated there)
 * (v2: (256 - Priority) / 256 s). Priority 100 at 100 cs: 609.375 ms; at 1 cs: 6.093 ms.
 */
export const skewTimeMs = (priority: number, masterAdverIntCs: number, version: VrrpVersion = 3): number =>
  Math.floor(((256 - priority) * (version === 3 ? masterAdverIntCs : 100) * 10_000) / 256) / 1000;

/** Master_Down_Interval = (3 * Master_Adver_Interval) + Skew_Time, in ms (µs precision). */
export const masterDownIntervalMs = (priority: number, masterAdverIntCs: number, version: VrrpVersion = 3): number =>
  3 * csToMs(masterAdverIntCs) + skewTimeMs(priority, masterAdverIntCs, version);
