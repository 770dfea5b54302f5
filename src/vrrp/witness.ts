// A witness (not in keepalived, FRR or seesaw): addresses this node must reach to take or keep
// mastership, typically the default gateway. Probed every interval, all at once; reachable when
// any answers, with rise/fall hysteresis. A node cut off from its network (the partition's small
// side) then sits in FAULT instead of claiming the VIP: it cannot hear the peer, but it cannot
// reach the witness either. The probe itself comes from the daemon (ICMP echo on Linux); time
// from the injected clock.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { riseFall, type RiseFall } from './tracking.js';

export interface WitnessSettings {
  targets: string[];
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
}

export type Probe = (address: string, timeoutMs: number) => Promise<boolean>;

export class Witness {
  /** undefined until the first round: the instance waits for it before it starts. */
  private rf: RiseFall | undefined;
  private cancel: (() => void) | undefined;
  private stopped = false;
  private first: Promise<void> | undefined;
  private lastAnswered: string[] = [];

  constructor(readonly cfg: WitnessSettings, private readonly clock: Clock, private readonly log: Logger,
              private readonly probe: Probe, private readonly onChange: () => void) {}

  /** Reachable (after hysteresis); false before the first round. */
  get up(): boolean { return this.rf?.up ?? false; }
  /** For status: which targets answered in the last round. */
  view(): { up: boolean; targets: string[]; answered: string[] } { return { up: this.up, targets: this.cfg.targets, answered: [...this.lastAnswered] }; }

  /** Start probing; resolves once the first round is done (its result decides at once, no rise). */
  start(): Promise<void> {
    this.first ??= this.round(true);
    return this.first;
  }

  stop(): void { this.stopped = true; this.cancel?.(); }

  private async round(first = false): Promise<void> {
    if (this.stopped) return;
    const started = this.clock.now();
    const answers = await Promise.all(this.cfg.targets.map((t) => this.probe(t, this.cfg.timeoutMs).catch(() => false)));
    if (this.stopped) return;
    this.lastAnswered = this.cfg.targets.filter((_, i) => answers[i]);
    const ok = this.lastAnswered.length > 0;
    const before = this.rf?.up;
    this.rf = first || !this.rf ? { up: ok, streak: 0 } : riseFall(this.rf, ok, this.cfg.rise, this.cfg.fall);
    if (this.rf.up !== before) {
      this.log.info({ witness: this.cfg.targets, up: this.rf.up, answered: this.lastAnswered }, this.rf.up ? 'witness reachable' : 'witness unreachable: no mastership here');
      this.onChange();
    }
    this.cancel = this.clock.at(Math.max(started + this.cfg.intervalMs, this.clock.now()), () => { void this.round(); });
  }
}
