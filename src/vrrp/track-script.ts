// Runs a track script on its interval and reports up/down after rise/fall. The run itself comes
// from the daemon (its own process group, bounded output, the group killed at the timeout), so a
// slow script never blocks adverts; a run still going when the next is due is not doubled up.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { riseFall, type RiseFall } from './tracking.js';

export interface TrackScriptSettings {
  name: string;
  command: string[];
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
}

/** Runs argv with a deadline; the result's code 0 (and no timeout) is success. */
export type ScriptRunner = (argv: readonly string[], timeoutMs: number) => Promise<{ code: number | null; signal: string | null; timedOut: boolean; output: string }>;

export class TrackScript {
  private rf: RiseFall;
  private cancel: (() => void) | undefined;
  private running = false;
  private stopped = false;

  constructor(readonly cfg: TrackScriptSettings, private readonly clock: Clock, private readonly log: Logger,
              private readonly run: ScriptRunner, private readonly onChange: (up: boolean) => void) {
    // Like keepalived, a script starts "up" only once it has proved itself when rise > 1... we
    // start optimistic so a fresh node does not begin in fault; `fall` failures take it down.
    this.rf = { up: true, streak: 0 };
  }

  get up(): boolean { return this.rf.up; }

  start(): void { this.schedule(this.clock.now()); }

  stop(): void { this.stopped = true; this.cancel?.(); }

  private schedule(at: number): void {
    if (this.stopped) return;
    this.cancel = this.clock.at(at, () => this.runOnce());
  }

  private runOnce(): void {
    const started = this.clock.now();
    this.schedule(started + this.cfg.intervalMs);
    if (this.running) return;
    this.running = true;
    const done = (ok: boolean, exit: number | string): void => {
      this.running = false;
      if (this.stopped) return;
      const before = this.rf.up;
      this.rf = riseFall(this.rf, ok, this.cfg.rise, this.cfg.fall);
      this.log.debug({ script: this.cfg.name, ok, exit, ms: Math.round(this.clock.now() - started) }, 'track script ran');
      if (this.rf.up !== before) {
        this.log.info({ script: this.cfg.name, up: this.rf.up, exit }, 'track script changed');
        this.onChange(this.rf.up);
      }
    };
    this.run(this.cfg.command, this.cfg.timeoutMs).then(
      (r) => done(r.code === 0 && !r.timedOut, r.timedOut ? 'timeout' : r.code ?? String(r.signal)),
      (e: unknown) => done(false, e instanceof Error ? e.message : String(e)),
    );
  }
}
