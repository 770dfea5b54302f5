// A VRRP socket that outlives its interface. Instances hold the slot for good; the runner tells
// it what the link is doing: there and up -> a socket is open (a recreated link, seen by its new
// index, gets a new one); down or gone -> no socket, and sends fail at once. A socket that errors,
// or keeps failing to send, is closed and reopened with backoff; opens that fail are retried the
// same way. The open itself comes through the platform, time from the injected clock.
import { EventEmitter } from 'node:events';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { IoError } from '../core/errors.js';
import type { AdvertPacer, PacerOptions, PacerStats, VrrpTransport, TransportRinfo, TransportDrop } from '../vrrp/transport.js';
import type { LinkState, TransportKey } from './platform.js';
import type { SocketView } from '../control/views.js';

/** Backoff of reopen attempts: from the first, doubled up to the last. */
export const REOPEN_FIRST_MS = 100;
export const REOPEN_MAX_MS = 5000;
/** Sends failing in a row with a dead-socket error before the socket is taken for broken and reopened. */
export const SEND_FAILURES_TO_REOPEN = 3;
/**
 * A socket lost to an error (the link still up) counts as usable this long while it is reopened:
 * a glitch that a reopen mends costs no failover. A link that goes down or away counts at once.
 */
export const REOPEN_GRACE_MS = 1000;
/** Send errors that mean the socket itself is dead, not that one destination is unreachable. */
const DEAD_SOCKET = /\b(EBADF|ENODEV|ENXIO|ENOTSOCK)\b/;

export interface SlotDeps {
  clock: Clock;
  log: Logger;
  open(k: TransportKey): Promise<VrrpTransport>;
  /** The slot opened or lost its socket: tracking follows. */
  changed(): void;
}

export class TransportSlot extends EventEmitter implements VrrpTransport {
  private t: VrrpTransport | undefined;
  private src: string;
  private index: number | undefined;
  /** The link is there and up: keep a socket open. */
  private wanted = false;
  private closed = false;
  private opening: Promise<void> | undefined;
  private cancelRetry: (() => void) | undefined;
  private backoffMs = 0;
  private sendFailures = 0;
  /** When the socket was lost to an error while the link was up. */
  private lostAt: number | undefined;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly counters = { opens: 0, errors: 0, lastError: undefined as string | undefined };
  private readonly pacers = new Set<SlotPacer>();

  constructor(readonly key: TransportKey, private readonly deps: SlotDeps) {
    super();
    this.src = key.srcAddress ?? (key.family === 4 ? '0.0.0.0' : '::');
  }

  get srcAddress(): string { return this.t?.srcAddress ?? this.src; }
  get isOpen(): boolean { return this.t !== undefined; }
  /** Open, or lost to an error moments ago and being reopened (see REOPEN_GRACE_MS). */
  get usable(): boolean {
    return this.t !== undefined || (this.wanted && this.lostAt !== undefined && this.deps.clock.now() - this.lostAt < REOPEN_GRACE_MS);
  }

  view(): SocketView {
    return { ifname: this.key.ifname, kind: this.key.kind, family: this.key.family, open: this.isOpen, ...this.counters };
  }

  send(payload: Uint8Array, dst: string): Promise<void> {
    const t = this.t;
    if (!t) return Promise.reject(new IoError(`no VRRP socket on ${this.key.ifname}: the interface is missing or down`));
    const p = t.send(payload, dst).then(
      () => { if (t === this.t) this.sendFailures = 0; },
      (e: unknown) => {
        if (t === this.t && DEAD_SOCKET.test(msg(e)) && ++this.sendFailures >= SEND_FAILURES_TO_REOPEN) this.fail(e, `${this.sendFailures} sends failed in a row`);
        throw e;
      },
    );
    const tracked = p.catch(() => undefined).finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
    return p;
  }

  /** What the link is now (undefined: this host has no such link). */
  link(state: LinkState | undefined): void {
    if (this.closed) return;
    if (!state || !state.up) {
      this.wanted = false;
      this.lostAt = undefined;
      this.stopRetry();
      this.backoffMs = 0;
      if (this.t) {
        this.deps.log.warn({ ifname: this.key.ifname, why: state ? 'down' : 'gone' }, 'VRRP socket closed: interface ' + (state ? 'down' : 'gone'));
        this.drop();
      }
      return;
    }
    this.wanted = true;
    if (this.t && this.index !== undefined && this.index !== state.index) {
      this.deps.log.warn({ ifname: this.key.ifname, index: state.index, was: this.index }, 'interface recreated: reopening the VRRP socket');
      this.drop();
    }
    this.index = state.index;
    if (!this.t && !this.cancelRetry) this.openNow();
  }

  /** Resolves once the open in progress (if any) has succeeded or failed. */
  async ready(): Promise<void> { await this.opening; }

  drain(): void { this.t?.drain?.(); }

  /**
   * A pacer that follows this slot's socket: opened on the socket of the moment at its first
   * run(), closed when that socket goes (the interface went down, away or was recreated) and
   * opened again on the next socket at the next run().
   */
  openPacer(o: PacerOptions): AdvertPacer {
    const p = new SlotPacer(o, () => this.t, (x) => this.pacers.delete(x));
    this.pacers.add(p);
    return p;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wanted = false;
    this.stopRetry();
    this.drop(false);
  }

  private openNow(): void {
    if (this.opening || this.closed || !this.wanted) return;
    this.opening = this.deps.open(this.key).then(
      (t) => {
        if (this.closed || !this.wanted) { t.close(); return; }
        this.attach(t);
        this.counters.opens++;
        this.backoffMs = 0;
        this.lostAt = undefined;
        this.deps.log.info({ ifname: this.key.ifname, src: t.srcAddress, opens: this.counters.opens }, this.counters.opens === 1 ? 'VRRP socket open' : 'VRRP socket reopened');
        this.deps.changed();
      },
      (e: unknown) => {
        this.counters.errors++;
        this.counters.lastError = msg(e);
        this.scheduleRetry('open failed');
      },
    ).finally(() => { this.opening = undefined; });
  }

  private attach(t: VrrpTransport): void {
    this.t = t;
    this.src = t.srcAddress;
    this.sendFailures = 0;
    t.on('message', (m: Buffer, r: TransportRinfo) => { if (t === this.t) this.emit('message', m, r); });
    t.on('drop', (d: TransportDrop) => { if (t === this.t) this.emit('drop', d); });
    t.on('error', (e: Error) => { if (t === this.t) this.fail(e, 'socket error'); });
  }

  /** The socket is broken: close it, count it, and open a new one after the backoff. */
  private fail(e: unknown, why: string): void {
    this.counters.errors++;
    this.counters.lastError = msg(e);
    const at = this.deps.clock.now();
    this.lostAt = at;
    this.drop();
    this.scheduleRetry(why);
    // Still without a socket when the grace ends: tracking puts the instances in FAULT.
    this.deps.clock.at(at + REOPEN_GRACE_MS, () => { if (this.lostAt === at && !this.t) this.deps.changed(); });
  }

  private scheduleRetry(why: string): void {
    if (this.closed || !this.wanted || this.cancelRetry) return;
    this.backoffMs = Math.min(REOPEN_MAX_MS, this.backoffMs ? this.backoffMs * 2 : REOPEN_FIRST_MS);
    this.deps.log.warn({ ifname: this.key.ifname, why, err: this.counters.lastError, retryMs: this.backoffMs }, 'VRRP socket unusable; reopening');
    this.cancelRetry = this.deps.clock.at(this.deps.clock.now() + this.backoffMs, () => { this.cancelRetry = undefined; this.openNow(); });
  }

  private stopRetry(): void {
    this.cancelRetry?.();
    this.cancelRetry = undefined;
  }

  /** Forget the socket now (new sends fail at once); close it once the sends already given to it are done. */
  private drop(notify = true): void {
    const t = this.t;
    if (!t) return;
    this.t = undefined;
    for (const p of this.pacers) p.detach();
    void Promise.all(this.inflight).then(() => t.close());
    if (notify) this.deps.changed();
  }
}

/** A TransportSlot's pacer: the native one of the slot's current socket, and the counts of those before it. */
class SlotPacer implements AdvertPacer {
  private on: { t: VrrpTransport; p: AdvertPacer } | undefined;
  private base = { sent: 0, errors: 0, lapses: 0 };
  private lastError: string | undefined;
  private closed = false;

  constructor(private readonly o: PacerOptions, private readonly current: () => VrrpTransport | undefined, private readonly gone: (p: SlotPacer) => void) {}

  run(adverts: readonly { payload: Uint8Array; dst: string }[], intervalMs: number): void {
    if (this.closed) throw new IoError('advert pacer closed');
    const t = this.current();
    if (this.on && this.on.t !== t) this.detach();
    if (!t) throw new IoError('no VRRP socket: the interface is missing or down');
    if (!t.openPacer) throw new IoError('this VRRP socket cannot pace adverts from a thread');
    this.on ??= { t, p: t.openPacer(this.o) };
    this.on.p.run(adverts, intervalMs);
  }

  feed(): void { this.on?.p.feed(); }
  stop(): void { this.on?.p.stop(); }

  stats(): PacerStats {
    const s = this.on?.p.stats();
    return {
      sent: this.base.sent + (s?.sent ?? 0), errors: this.base.errors + (s?.errors ?? 0), lapses: this.base.lapses + (s?.lapses ?? 0),
      lastError: s?.lastError ?? this.lastError, sinceLastSendMs: s?.sinceLastSendMs, realtimeError: s?.realtimeError,
    };
  }

  /** The socket went: stop sending on it now; its counts are kept. */
  detach(): void {
    const on = this.on;
    if (!on) return;
    this.on = undefined;
    const s = on.p.stats();
    on.p.close();
    this.base = { sent: this.base.sent + s.sent, errors: this.base.errors + s.errors, lapses: this.base.lapses + s.lapses };
    this.lastError = s.lastError ?? this.lastError;
  }

  close(): void {
    if (this.closed) return;
    this.detach();
    this.closed = true;
    this.gone(this);
  }
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));
