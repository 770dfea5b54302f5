// TCP_CHECK through the native connect core (native/tcp_core.c): the same verdicts, reasons and
// contract as tcp.ts (connected, or the errno as errnoReason names it; a timeout or an abort from
// the Probe; an established connection closed with a RST), without a net.Socket per check. The
// core's results come in one call per wakeup of this thread's loop, for every check that
// finished meanwhile. Without the built addon, or for what the core does not parse (an address
// with a zone, or not an address of the target's family: tcp.ts names those errors), the check
// is tcp.ts's.
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { constants } from 'node:os';
import { findAddon } from '../../core/addon.js';
import type { CheckResult, CheckTarget, TcpCheckSpec } from '../types.js';
import { Probe, errnoReason } from './probe.js';
import { tcpCheck } from './tcp.js';

interface TcpCoreAddon {
  /** Results as [fd, err, status] triples. */
  init(onBatch: (batch: Int32Array) => void): void;
  /** fd (in progress) or -errno (failed at once; nothing left open). With a request: an HTTP exchange. */
  connect(family: 4 | 6, address: string, port: number, bindAddress: string | undefined, request?: Buffer): number;
  close(fd: number, reset: boolean): void;
  inflight(): number;
}

/** undefined: not looked for yet; null: not built or does not load here. */
let core: TcpCoreAddon | null | undefined;
let loadError: string | undefined;
/** The run waiting on each fd of the core. */
const byFd: (CoreProbe | undefined)[] = [];

/** The core's err for an HTTP exchange: EOF before a whole response head / not an HTTP/1.x head. */
export const CORE_CLOSED = -1;
export const CORE_BAD = -2;

/** errno number -> code ('ECONNREFUSED'), for errnoReason. */
const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

function onBatch(batch: Int32Array): void {
  for (let i = 0; i < batch.length; i += 3) byFd[batch[i]!]?.settle(batch[i + 1]!, batch[i + 2]!);
}

/** The core for this thread, loaded and started on first use; null without it. */
export function tcpCore(): TcpCoreAddon | null {
  if (core !== undefined) return core;
  core = null;
  const { file } = findAddon(import.meta.url, 'tcp_core');
  if (file === undefined) {
    loadError = 'native/build/Release/tcp_core.node not found (npm run build:native)';
    return core;
  }
  try {
    const c = createRequire(import.meta.url)(file) as TcpCoreAddon;
    c.init(onBatch);
    core = c;
  } catch (e) {
    loadError = `${file}: ${(e as Error).message}`;
  }
  return core;
}

/** Which TCP check runs here: 'native' (the core), or 'js' (net.Socket) and why. */
export function tcpCheckKind(): { kind: 'native' } | { kind: 'js'; why: string } {
  return tcpCore() ? { kind: 'native' } : { kind: 'js', why: loadError ?? 'not loaded' };
}

/** Connections the core still watches (0 once every run has ended; for tests). */
export function nativeTcpInflight(): number {
  return core ? core.inflight() : 0;
}

export const reasonOf = (errno: number): string => errnoReason({ code: errnoNames.get(errno) ?? `E${errno}` });

/** A run on the core: connect (and an HTTP exchange when there is a request), then settle(). */
export abstract class CoreProbe extends Probe {
  private fd = -1;
  /** Close with a RST: set by a subclass once the connection was established. */
  protected reset = false;

  constructor(private readonly c: TcpCoreAddon, private readonly target: CheckTarget, private readonly request?: Buffer) { super(); }

  protected begin(): void {
    const t = this.target;
    const fd = this.c.connect(t.family, t.address, t.port, t.bindAddress, this.request);
    if (fd < 0) { this.finish(false, this.errorReason(-fd)); return; }
    this.fd = fd;
    byFd[fd] = this;
  }

  /** The core's word: err 0 (connected, or an HTTP status), an errno, CORE_CLOSED or CORE_BAD. */
  abstract settle(err: number, status: number): void;

  protected errorReason(errno: number): string { return reasonOf(errno); }

  protected release(): void {
    const fd = this.fd;
    if (fd < 0) return;
    this.fd = -1;
    byFd[fd] = undefined;
    this.c.close(fd, this.reset);
  }
}

/** Is a target one the core takes (IP literals of its family, no zone)? */
export function coreTakes(t: CheckTarget): boolean {
  return isIP(t.address) === t.family && (t.bindAddress === undefined || isIP(t.bindAddress) === t.family);
}

class NativeTcpProbe extends CoreProbe {
  settle(err: number): void {
    if (err !== 0) { this.finish(false, reasonOf(err)); return; }
    this.reset = true;
    this.finish(true, 'connected');
  }
}

/** tcp.ts's check on the native core when it is there. */
export function nativeTcpCheck(spec: TcpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const c = tcpCore();
  const t = spec.target;
  if (c === null || !coreTakes(t)) return tcpCheck(spec, signal);
  return new NativeTcpProbe(c, t).run(signal, spec.timeoutMs);
}
