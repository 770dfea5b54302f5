// TCP_CHECK: healthy when a connection is established; nothing is sent.
// The connection is closed with a RST (SO_LINGER 0) rather than a FIN: the director would
// otherwise be the active closer and keep a TIME_WAIT socket per check, and at thousands of
// checks per second against one real server that exhausts the ephemeral ports (HAProxy closes
// its checks the same way).
import { connect, type Socket } from 'node:net';
import type { CheckResult, CheckTarget, TcpCheckSpec } from '../types.js';
import { Probe, errnoReason, probeOf, tag } from './probe.js';

class TcpProbe extends Probe {
  private socket: Socket | undefined;
  private established = false;

  constructor(private readonly target: CheckTarget) { super(); }

  protected begin(): void {
    const s = connectTo(this.target);
    this.socket = s;
    tag(s, this);
    s.once('connect', onConnect);
    // Stays attached after the verdict: a late error must not become an uncaught 'error'.
    s.on('error', onError);
  }

  connected(): void {
    this.established = true;
    this.finish(true, 'connected');
  }

  protected release(): void {
    const s = this.socket;
    if (s === undefined) return;
    if (this.established && !s.destroyed) s.resetAndDestroy();
    else s.destroy();
  }
}

/** A socket connecting to the target (IP literal: no DNS), from bindAddress when set. */
export function connectTo(t: CheckTarget): Socket {
  return t.bindAddress === undefined
    ? connect({ host: t.address, port: t.port, family: t.family })
    : connect({ host: t.address, port: t.port, family: t.family, localAddress: t.bindAddress });
}

function onConnect(this: Socket): void { probeOf<TcpProbe>(this).connected(); }

function onError(this: Socket, err: Error): void { probeOf<TcpProbe>(this).finish(false, errnoReason(err)); }

export function tcpCheck(spec: TcpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  return new TcpProbe(spec.target).run(signal, spec.timeoutMs);
}
