// IPVS over generic netlink: the adapter that reads and writes the kernel's IPVS table of the
// network namespace it was opened in. Requests are built and replies decoded by the pure
// ipvs/genl-map.ts and ipvs/genl-codec.ts; the socket is netlink/genl.ts (npm `netlink`). One
// request at a time, except dump()'s destination dumps (one per service), which go together
// through GenlSocket.requestMany (the native batch addon: no JS per request).
//
// Errors: every kernel refusal or I/O failure rejects with an IpvsError (an IoError, code
// DUET_E_IO) naming the exact operation and object, e.g.
// "add dest 192.0.2.21:80 to tcp 192.0.2.100:80: EEXIST", with the errno name in `errno`.
// Nothing is retried here: whether to retry a write is the reconciler's decision.
//
// `writes` counts write requests sent (add/edit/del of services and destinations, timeouts,
// daemons, zero, flush), whether or not the kernel accepted them: applying an unchanged table
// must leave it where it was.
import { GenlError, GenlSocket, type GenlRaw } from '../netlink/genl.js';
import { IoError } from '../core/errors.js';
import { assertNever } from '../core/result.js';
import type { Family } from '../core/addr.js';
import { IPVS_GENL_NAME, type WireDest, type WireService } from './genl-fields.js';
import {
  decodeBody, encodeIpvsPayload, type DecodeOptions, type IpvsMessage, type IpvsRequest, type NetlinkMessage,
} from './genl-codec.js';
import {
  daemonFromWire, destFromWire, destStatsFromWire, infoFromWire, ipvsRequest, serviceFromWire, statsFromWire, timeoutsFromWire,
  type DestId, type IpvsInfo, type MapError, type ServiceId, type Timeouts,
} from './genl-map.js';
import type { KernelDaemon, SyncDaemonSettings, SyncRole } from '../sync/plan.js';
import {
  destKey, serviceKey, type DestStats, type Destination, type Service, type ServiceStats, type Stats, type Table, type TableStats,
} from './model.js';
import type { Op } from './diff.js';

/** An IPVS request failed; `errno` is the kernel's errno name ('EEXIST') when it gave one. */
export class IpvsError extends IoError {
  constructor(message: string, readonly errno: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface IpvsClientOptions {
  /** Reply deadline per request, ms (default 5000). */
  timeoutMs?: number;
  /**
   * dump()'s destination dumps through the native addon, off the event loop (default true, when
   * it is built); false: one request at a time through npm netlink (for comparisons).
   */
  nativeBatch?: boolean;
}

export interface ServiceEntry {
  readonly service: Service;
  readonly stats: Stats;
}

export interface DestEntry {
  readonly dest: Destination;
  readonly stats: DestStats;
}

/** Something in the kernel's table the model cannot represent (left out of the dump's table). */
export interface Unmapped {
  /** "service tcp 192.0.2.1:80" or "dest 192.0.2.21:80 in tcp 192.0.2.1:80" (as far as known). */
  readonly what: string;
  readonly error: MapError;
}

export interface IpvsDump {
  readonly table: Table;
  /** Keys match the table's. */
  readonly stats: TableStats;
  /** Services and destinations the model cannot represent, e.g. a non-contiguous IPv4 netmask. */
  readonly unmapped: readonly Unmapped[];
}

/** dump({ stats: false }): the table without counters. */
export interface IpvsTableDump {
  readonly table: Table;
  readonly stats?: undefined;
  readonly unmapped: readonly Unmapped[];
}

const GET_SERVICES = ((r: IpvsRequest) => encodeIpvsPayload(r.cmd, r.attrs))(ipvsRequest.getServices());

const ipvsErrorOf = (e: unknown): IpvsError => new IpvsError((e as Error).message, e instanceof GenlError ? e.errno : undefined, { cause: e });

/** "tcp 192.0.2.100:80", "udp [2001:db8::1]:53", "fwmark 10", "fwmark 10 (IPv6)". */
export function describeService(s: ServiceId): string {
  if (s.kind === 'fwmark') return `fwmark ${s.fwmark}${s.family === 6 ? ' (IPv6)' : ''}`;
  return `${s.protocol} ${hostPort(s.family, s.address, s.port)}`;
}

export const describeDest = (d: DestId): string => hostPort(d.family, d.address, d.port);

const hostPort = (family: Family, address: string, port: number): string => (family === 6 ? `[${address}]:${port}` : `${address}:${port}`);

function describeWireService(w: WireService): string {
  const fam = w.af === 10 ? 6 : 4;
  if (w.fwmark) return `fwmark ${w.fwmark}${fam === 6 ? ' (IPv6)' : ''}`;
  const proto = w.protocol === 6 ? 'tcp' : w.protocol === 17 ? 'udp' : w.protocol === 132 ? 'sctp' : `proto ${w.protocol ?? '?'}`;
  return `${proto} ${hostPort(fam, w.addr ?? '?', w.port ?? 0)}`;
}

/** The identity of a service (what the kernel looks it up by). */
export function serviceIdOf(s: ServiceId): ServiceId {
  return s.kind === 'fwmark'
    ? { kind: 'fwmark', family: s.family, fwmark: s.fwmark }
    : { kind: 'addr', family: s.family, protocol: s.protocol, address: s.address, port: s.port };
}

export class IpvsClient {
  private _writes = 0;
  /** serviceKey -> encoded GET_DEST dump request, for the services of the last dump(). */
  private destDumpCache = new Map<string, Uint8Array>();
  private readonly decodeAll: DecodeOptions;
  private readonly decodeNoStats: DecodeOptions;

  /** Set when a request got no answer at all (time-out, socket error): the next call uses a new socket. */
  private broken = false;
  private _reopens = 0;

  private constructor(
    private sock: GenlSocket,
    /** The IPVS generic-netlink family id, resolved when the client was opened. */
    readonly family: number,
    /** Makes a new socket when the one in use failed. */
    private readonly newSocket: () => GenlSocket,
  ) {
    this.decodeAll = { ipvsFamily: family };
    this.decodeNoStats = { ipvsFamily: family, stats: false };
  }

  /**
   * Opens a client in the caller's network namespace. Rejects with an IpvsError (errno ENOENT)
   * "IPVS not available in this kernel" when the kernel has no IPVS family (ip_vs not loaded).
   */
  static async open(o: IpvsClientOptions = {}): Promise<IpvsClient> {
    const newSocket = (): GenlSocket => new GenlSocket({ ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}), ...(o.nativeBatch !== undefined ? { nativeBatch: o.nativeBatch } : {}) });
    const sock = newSocket();
    try {
      const id = await sock.resolveFamily(IPVS_GENL_NAME);
      if (id === undefined) {
        throw new IpvsError('IPVS not available in this kernel (no generic netlink family "IPVS": is ip_vs loaded?)', 'ENOENT');
      }
      return new IpvsClient(sock, id, newSocket);
    } catch (e) {
      sock.close();
      if (e instanceof IpvsError) throw e;
      throw new IpvsError(`open IPVS: ${(e as Error).message}`, e instanceof GenlError ? e.errno : undefined, { cause: e });
    }
  }

  /** Write requests sent since the client was opened (accepted or not). */
  get writes(): number {
    return this._writes;
  }

  /** Sockets replaced after a request got no answer. */
  get reopens(): number {
    return this._reopens;
  }

  /** For tests: a client on sockets the caller makes (a fake GenlSocket). */
  static withSockets(newSocket: () => GenlSocket, family: number): IpvsClient {
    return new IpvsClient(newSocket(), family, newSocket);
  }

  close(): void {
    this.sock.close();
  }

  /**
   * The socket for the next request. A request that got no answer (GenlError: time-out, a
   * socket error, a closed socket) may leave replies in flight or the socket dead; it is closed
   * and a new one used, so one bad moment does not fail every later call. The failed request
   * itself was reported; the reconciler's next pass redoes what it was for.
   */
  private socket(): GenlSocket {
    if (this.broken) {
      this.broken = false;
      this._reopens++;
      this.sock.close();
      this.sock = this.newSocket();
    }
    return this.sock;
  }

  private failed(e: unknown): never {
    if (e instanceof GenlError) this.broken = true;
    throw ipvsErrorOf(e);
  }

  // -------------------------------------------------------------------------------------------
  // Transport

  /**
   * Sends one request; returns the IPVS messages answering it, or rejects with an IpvsError.
   * stats false: the replies' stats nests are skipped (codec DecodeOptions.stats).
   */
  private async call(r: IpvsRequest, what: string, stats = true): Promise<IpvsMessage[]> {
    let raws: GenlRaw[];
    try {
      raws = await this.socket().request(this.family, encodeIpvsPayload(r.cmd, r.attrs), { dump: r.dump, what });
    } catch (e) {
      this.failed(e);
    }
    return this.messagesOf(raws, () => what, stats);
  }

  /**
   * Many encoded dump requests, sent together (GenlSocket requestMany: one native round trip
   * when the addon is built); result[i], undecoded, answers payloads[i]. The caller decodes each
   * with messagesOf() when it uses it, so the decoded messages of a big dump are never all alive
   * at once (less garbage-collector work).
   */
  private async requestDumps(payloads: readonly Uint8Array[], what: (i: number) => string): Promise<GenlRaw[][]> {
    try {
      return await this.socket().requestMany(this.family, payloads, { dump: true, what });
    } catch (e) {
      this.failed(e);
    }
  }

  /**
   * The IPVS messages among one request's answer; throws the IpvsError of a kernel error.
   * `what` is called for an error only (a dump would otherwise describe every service).
   */
  private messagesOf(raws: readonly GenlRaw[], what: () => string, stats: boolean): IpvsMessage[] {
    const out: IpvsMessage[] = [];
    const opts = stats ? this.decodeAll : this.decodeNoStats;
    for (const raw of raws) {
      const d = decodeBody({ type: raw.type, flags: raw.flags, seq: raw.seq, port: raw.port }, raw.data, opts);
      if (!d.ok) throw new IpvsError(`${what()}: undecodable reply (${d.error.reason}: ${d.error.detail})`, 'EPROTO');
      const m: NetlinkMessage = d.value;
      switch (m.kind) {
        case 'error':
          throw new IpvsError(`${what()}: ${m.errnoName}${m.extack?.message ? ` (${m.extack.message})` : ''}`, m.errnoName);
        case 'ack':
        case 'done':
        case 'other':
          break;
        case 'ipvs':
          out.push(m);
          break;
        default:
          assertNever(m, 'message');
      }
    }
    return out;
  }

  private async write(r: IpvsRequest, what: string): Promise<void> {
    this._writes++;
    await this.call(r, what);
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  /** IPVS version and connection table size. */
  async getInfo(): Promise<IpvsInfo> {
    const [m] = await this.call(ipvsRequest.getInfo(), 'get info');
    const i = m && infoFromWire(m.attrs);
    if (!i?.ok) throw new IpvsError(`get info: ${i ? i.error.detail : 'no reply'}`, 'EPROTO');
    return i.value;
  }

  /** Every service (without destinations) with its counters and rates. */
  async getServices(): Promise<ServiceEntry[]> {
    const { entries } = await this.readServices();
    return entries.map(({ service, wire }) => ({ service, stats: statsFromWire(wire) }));
  }

  /** One service, or undefined when the kernel has none with this identity. */
  async getService(id: ServiceId): Promise<ServiceEntry | undefined> {
    const what = `get service ${describeService(id)}`;
    let ms: IpvsMessage[];
    try {
      ms = await this.call(ipvsRequest.getService(id), what);
    } catch (e) {
      if (e instanceof IpvsError && e.errno === 'ESRCH') return undefined;
      throw e;
    }
    const w = ms[0]?.attrs.service;
    if (!w) throw new IpvsError(`${what}: no service in the reply`, 'EPROTO');
    const s = serviceFromWire(w);
    if (!s.ok) throw new IpvsError(`${what}: ${s.error.detail}`, 'EPROTO');
    return { service: s.value, stats: statsFromWire(w) };
  }

  /** The destinations of one service with their counters and connection counts. */
  async getDests(svc: ServiceId): Promise<DestEntry[]> {
    const { entries, unmapped } = await this.readDests(svc, true);
    if (unmapped.length > 0) throw new IpvsError(`get dests of ${describeService(svc)}: ${unmapped[0]!.what}: ${unmapped[0]!.error.detail}`, 'EPROTO');
    return entries.map(({ dest, wire }) => ({ dest, stats: destStatsFromWire(wire) }));
  }

  /**
   * The whole table: services, their destinations, counters and rates. With `{ stats: false }`
   * the counters are neither decoded nor returned: the table alone, for less CPU (the reconciler).
   */
  dump(o?: { stats?: true }): Promise<IpvsDump>;
  dump(o: { stats: false }): Promise<IpvsTableDump>;
  dump(o?: { stats?: boolean }): Promise<IpvsDump | IpvsTableDump>;
  async dump(o: { stats?: boolean } = {}): Promise<IpvsDump | IpvsTableDump> {
    const withStats = o.stats ?? true;
    const table = new Map<string, Service>();
    const stats = new Map<string, ServiceStats>();
    const { entries, unmapped: svcUnmapped } = await this.readServices(withStats);
    const unmapped: Unmapped[] = [...svcUnmapped];
    // One dest dump per service, all sent together: the kernel has no dump of every destination.
    // A service deleted since the service dump answers with an empty dump, not an error (Linux
    // 6.1): it is listed without destinations, by either path.
    const keys = entries.map(({ service }) => serviceKey(service));
    const payloads = this.destDumpPayloads(entries.map(({ service }) => service), keys);
    const what = (i: number): string => `list dests of ${describeService(entries[i]!.service)}`;
    const replies = await this.requestDumps(payloads, what);
    for (const [i, { service, wire }] of entries.entries()) {
      const sk = keys[i]!;
      const { entries: ds, unmapped: du } = this.destsOf(this.messagesOf(replies[i]!, () => what(i), withStats), service);
      for (const u of du) unmapped.push(u);
      const dests = new Map<string, Destination>();
      const dstats = new Map<string, DestStats>();
      for (const d of ds) {
        const dk = destKey(d.dest);
        dests.set(dk, d.dest);
        if (withStats) dstats.set(dk, destStatsFromWire(d.wire));
      }
      table.set(sk, { ...service, dests });
      if (withStats) stats.set(sk, { stats: statsFromWire(wire), dests: dstats });
    }
    return withStats ? { table, stats, unmapped } : { table, unmapped };
  }

  /**
   * The encoded GET_DEST dump request of each service (keys[i]: serviceKey of services[i]).
   * Encoding is pure but costs as much as decoding the answer, and a re-apply asks about the
   * same services each time: the payloads of the last dump's services are kept.
   */
  private destDumpPayloads(services: readonly Service[], keys: readonly string[]): Uint8Array[] {
    const next = new Map<string, Uint8Array>();
    const out = services.map((s, i) => {
      let p = this.destDumpCache.get(keys[i]!);
      if (!p) {
        const r = ipvsRequest.getDests(serviceIdOf(s));
        p = encodeIpvsPayload(r.cmd, r.attrs);
      }
      next.set(keys[i]!, p);
      return p;
    });
    this.destDumpCache = next;
    return out;
  }

  private async readServices(withStats = true): Promise<{ entries: Array<{ service: Service; wire: WireService }>; unmapped: Unmapped[] }> {
    // Through the batch path too: a thousand services are a thousand messages, which the addon
    // hands over in one buffer.
    const [raws = []] = await this.requestDumps([GET_SERVICES], () => 'list services');
    const ms = this.messagesOf(raws, () => 'list services', withStats);
    const entries: Array<{ service: Service; wire: WireService }> = [];
    const unmapped: Unmapped[] = [];
    for (const m of ms) {
      const w = m.attrs.service;
      if (!w) continue;
      const s = serviceFromWire(w);
      if (s.ok) entries.push({ service: s.value, wire: w });
      else unmapped.push({ what: `service ${describeWireService(w)}`, error: s.error });
    }
    return { entries, unmapped };
  }

  private async readDests(svc: ServiceId, withStats: boolean): Promise<{ entries: Array<{ dest: Destination; wire: WireDest }>; unmapped: Unmapped[] }> {
    const ms = await this.call(ipvsRequest.getDests(serviceIdOf(svc)), `list dests of ${describeService(svc)}`, withStats);
    return this.destsOf(ms, svc);
  }

  /** The destinations in the answer to a GET_DEST dump of `svc`. */
  private destsOf(ms: readonly IpvsMessage[], svc: ServiceId): { entries: Array<{ dest: Destination; wire: WireDest }>; unmapped: Unmapped[] } {
    const entries: Array<{ dest: Destination; wire: WireDest }> = [];
    const unmapped: Unmapped[] = [];
    for (const m of ms) {
      const w = m.attrs.dest;
      if (!w) continue;
      const d = destFromWire(w, svc.family);
      if (d.ok) entries.push({ dest: d.value, wire: w });
      else unmapped.push({ what: `dest ${w.addr ?? '?'}:${w.port ?? '?'} in ${describeService(svc)}`, error: d.error });
    }
    return { entries, unmapped };
  }

  /** Connection timeouts, seconds. */
  async getTimeouts(): Promise<Timeouts> {
    const [m] = await this.call(ipvsRequest.getConfig(), 'get timeouts');
    if (!m) throw new IpvsError('get timeouts: no reply', 'EPROTO');
    return timeoutsFromWire(m.attrs);
  }

  /** Running sync daemons (master and/or backup). */
  async getDaemons(): Promise<KernelDaemon[]> {
    const ms = await this.call(ipvsRequest.getDaemons(), 'list sync daemons');
    const out: KernelDaemon[] = [];
    for (const m of ms) {
      if (!m.attrs.daemon) continue;
      const d = daemonFromWire(m.attrs.daemon);
      if (!d.ok) throw new IpvsError(`list sync daemons: ${d.error.detail}`, 'EPROTO');
      out.push(d.value);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  /** Adds a service with its attributes; its destinations are separate addDest calls. */
  addService(s: Service): Promise<void> {
    return this.write(ipvsRequest.newService(s), `add service ${describeService(s)}`);
  }

  /** Sets scheduler, flags, persistence timeout and netmask; destinations stay. */
  editService(s: Service): Promise<void> {
    return this.write(ipvsRequest.setService(s), `edit service ${describeService(s)}`);
  }

  /** Deletes a service and, with it, its destinations. */
  delService(s: ServiceId): Promise<void> {
    return this.write(ipvsRequest.delService(s), `del service ${describeService(s)}`);
  }

  addDest(svc: ServiceId, d: Destination): Promise<void> {
    return this.write(ipvsRequest.newDest(svc, d), `add dest ${describeDest(d)} to ${describeService(svc)}`);
  }

  editDest(svc: ServiceId, d: Destination): Promise<void> {
    return this.write(ipvsRequest.setDest(svc, d), `edit dest ${describeDest(d)} in ${describeService(svc)}`);
  }

  delDest(svc: ServiceId, d: DestId): Promise<void> {
    return this.write(ipvsRequest.delDest(svc, d), `del dest ${describeDest(d)} from ${describeService(svc)}`);
  }

  /** Sets connection timeouts, seconds; 0 or absent leaves one unchanged. */
  setTimeouts(t: Partial<Timeouts>): Promise<void> {
    return this.write(ipvsRequest.setConfig(t), `set timeouts tcp ${t.tcp ?? 0} tcpfin ${t.tcpFin ?? 0} udp ${t.udp ?? 0}`);
  }

  startDaemon(d: SyncDaemonSettings): Promise<void> {
    return this.write(ipvsRequest.newDaemon(d), `start ${d.state} sync daemon (${d.mcastIfn}, syncid ${d.syncId})`);
  }

  stopDaemon(state: SyncRole): Promise<void> {
    return this.write(ipvsRequest.delDaemon(state), `stop ${state} sync daemon`);
  }

  /** Zeroes the counters of one service, or of all. */
  zero(svc?: ServiceId): Promise<void> {
    return this.write(ipvsRequest.zero(svc), svc ? `zero ${describeService(svc)}` : 'zero all');
  }

  /** Deletes every service. duet never flushes to reload; tests may. */
  flush(): Promise<void> {
    return this.write(ipvsRequest.flush(), 'flush');
  }

  /** Applies one op of ipvs/diff.ts. */
  apply(op: Op): Promise<void> {
    switch (op.op) {
      case 'add-svc': return this.addService(op.svc);
      case 'edit-svc': return this.editService(op.svc);
      case 'del-svc': return this.delService(op.svc);
      case 'add-dest': return this.addDest(op.svc, op.dest);
      case 'edit-dest': return this.editDest(op.svc, op.dest);
      case 'del-dest': return this.delDest(op.svc, op.dest);
      default: return assertNever(op, 'op');
    }
  }
}
