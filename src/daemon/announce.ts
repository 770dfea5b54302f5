// Gratuitous ARP / unsolicited NA schedule on takeover (keepalived's garp_master_delay,
// garp_master_repeat, garp_master_refresh): a burst at once, a second burst after a delay,
// then periodic refreshes while master. Returns a cancel for when we leave master.
import type { Clock } from '../core/clock.js';

export interface AnnounceSettings {
  repeat: number;
  intervalMs: number;
  delayMs: number;
  refreshMs: number;
}

export function scheduleAnnouncements(clock: Clock, s: AnnounceSettings, sendAll: () => void): () => void {
  const pending = new Set<() => void>();
  const later = (at: number, fn: () => void): void => {
    const cancel = clock.at(at, () => { pending.delete(cancel); fn(); });
    pending.add(cancel);
  };
  const burst = (start: number): void => {
    sendAll();
    for (let i = 1; i < s.repeat; i++) later(start + i * s.intervalMs, sendAll);
  };
  const now = clock.now();
  burst(now);
  if (s.delayMs > 0) later(now + s.delayMs, () => burst(clock.now()));
  if (s.refreshMs > 0) {
    const refresh = (at: number): void => later(at, () => { burst(clock.now()); refresh(at + s.refreshMs); });
    refresh(now + s.refreshMs);
  }
  return () => { for (const c of pending) c(); pending.clear(); };
}
