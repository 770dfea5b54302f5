// TCP_CHECK through the native connect core (native/tcp_core.c): the same verdicts, reasons and
// contract as tcp.ts (connected, or the errno as errnoReason names it; a timeout or an abort from
// the Probe; an established connection closed with a RST), without a net.Socket per check. The
// core's results come in one call per wakeup of this thread's loop, for every check that
// finished meanwhile. Without the built addon, or for what the core does not parse (an address
// with a zone, or not an address of the target's family: tcp.ts names those errors), the check
// is tcp.ts's.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckResult, CheckTarget, TcpCheckSpec } from '../types.js';
import { Probe, errnoReason } from './probe.js';
import { tcpCheck } from './tcp.js';

interface TcpCoreAddon {
  init(onBatch: (batch: Int32Array) => void): void;
  /** fd (in progress) or -errno (failed at once; nothing left open). */
  connect(family: 4 | 6, address: string, port: number, bindAddress: string | undefined): number;
  close(fd: number, reset: boolean): void;
  inflight(): number;
}

const ADDON_REL = path.join('native', 'build', 'Release', 'tcp_core.node');

/** undefined: not looked for yet; null: not built or does not load here. */
let core: TcpCoreAddon | null | undefined;
let loadError: string | undefined;
/** The run waiting on each fd of the core. */
const byFd: (NativeTcpProbe | undefined)[] = [];

/** errno number -> code ('ECONNREFUSED'), for errnoReason. */
const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

function onBatch(batch: Int32Array): void {
  for (let i = 0; i < batch.length; i += 2) byFd[batch[i]!]?.settle(batch[i + 1]!);
}

/** The core for this thread, loaded and started on first use; null without it. */
function tcpCore(): TcpCoreAddon | null {
  if (core !== undefined) return core;
  core = null;
  for (let dir = path.dirname(fileURLToPath(import.meta.url)), i = 0; i < 6; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, ADDON_REL);
    if (!existsSync(file)) continue;
    try {
      const c = createRequire(import.meta.url)(file) as TcpCoreAddon;
      c.init(onBatch);
      core = c;
    } catch (e) {
      loadError = `${file}: ${(e as Error).message}`;
    }
    break;
  }
  if (core === null) loadError ??= `${ADDON_REL} not found (npm run build:native)`;
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

const reasonOf = (errno: number): string => errnoReason({ code: errnoNames.get(errno) ?? `E${errno}` });

class NativeTcpProbe extends Probe {
  private fd = -1;
  private established = false;

  constructor(private readonly c: TcpCoreAddon, private readonly target: CheckTarget) { super(); }

  protected begin(): void {
    const t = this.target;
    const fd = this.c.connect(t.family, t.address, t.port, t.bindAddress);
    if (fd < 0) { this.finish(false, reasonOf(-fd)); return; }
    this.fd = fd;
    byFd[fd] = this;
  }

  /** The core's word on the connect: 0 connected, else an errno. */
  settle(err: number): void {
    if (err === 0) {
      this.established = true;
      this.finish(true, 'connected');
    } else this.finish(false, reasonOf(err));
  }

  protected release(): void {
    const fd = this.fd;
    if (fd < 0) return;
    this.fd = -1;
    byFd[fd] = undefined;
    this.c.close(fd, this.established);
  }
}

/** tcp.ts's check on the native core when it is there. */
export function nativeTcpCheck(spec: TcpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const c = tcpCore();
  const t = spec.target;
  if (c === null || isIP(t.address) !== t.family || (t.bindAddress !== undefined && isIP(t.bindAddress) !== t.family)) return tcpCheck(spec, signal);
  return new NativeTcpProbe(c, t).run(signal, spec.timeoutMs);
}
