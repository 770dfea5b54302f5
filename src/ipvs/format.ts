// ipvsadm -Ln style listings of a dumped table, column for column, so operators' eyes and
// scripts that parse ipvsadm output keep working. Pure. The layouts were taken from ipvsadm
// 1.31 output against a real kernel (test/vectors/ipvs/list-*.txt are that output).
import type { Destination, DestStats, Service, ServiceStats, Stats, Table, TableStats } from './model.js';
import { ipv4MaskFromLen, fullNetmaskLen } from './model.js';
import { parseIpv4, parseIpv6 } from '../core/addr.js';

export type ListView = 'plain' | 'stats' | 'rate' | 'thresholds' | 'persistent-conn';

export interface IpvsInfo {
  /** "1.2.1" */
  version: string;
  /** Connection hash table size. */
  connTabSize: number;
}

const HEADERS: Record<ListView, string[]> = {
  plain: ['Prot LocalAddress:Port Scheduler Flags', '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn'],
  stats: ['Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes', '  -> RemoteAddress:Port'],
  rate: ['Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS', '  -> RemoteAddress:Port'],
  thresholds: ['Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ', '  -> RemoteAddress:Port'],
  'persistent-conn': ['Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn ', '  -> RemoteAddress:Port'],
};

const FORWARD_NAMES: Record<Destination['forward'], string> = {
  masq: 'Masq', route: 'Route', tunnel: 'Tunnel', local: 'Local', bypass: 'Bypass',
};

const ZERO_STATS: Stats = { conns: 0, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0, cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 };
const ZERO_DEST: DestStats = { ...ZERO_STATS, activeConns: 0, inactConns: 0, persistConns: 0 };

const hostPort = (family: 4 | 6, address: string, port: number): string =>
  family === 6 ? `[${address}]:${port}` : `${address}:${port}`;

/** "TCP  192.0.2.100:80", "SCTP 192.0.2.100:9", "FWM  10". */
function serviceName(s: Service): string {
  if (s.kind === 'fwmark') return `FWM  ${s.fwmark}`;
  return `${s.protocol.toUpperCase().padEnd(4)} ${hostPort(s.family, s.address, s.port)}`;
}

function serviceFlags(s: Service): string {
  let out = ` ${s.scheduler}`;
  const sched = s.scheduler === 'sh'
    ? [s.flags.shFallback && 'sh-fallback', s.flags.shPort && 'sh-port']
    : s.scheduler === 'mh' ? [s.flags.mhFallback && 'mh-fallback', s.flags.mhPort && 'mh-port'] : [];
  const names = sched.filter((x): x is string => typeof x === 'string');
  if (names.length) out += ` (${names.join(',')})`;
  if (s.flags.persistent) {
    out += ` persistent ${s.persistenceTimeoutS}`;
    if (s.persistenceNetmaskLen !== fullNetmaskLen(s.family)) {
      out += s.family === 4 ? ` mask ${dotted(ipv4MaskFromLen(s.persistenceNetmaskLen))}` : ` mask ${s.persistenceNetmaskLen}`;
    }
  }
  if (s.flags.onePacket) out += ' ops';
  return out;
}

const dotted = (m: number): string => [24, 16, 8, 0].map((sh) => (m >>> sh) & 0xff).join('.');

/** ipvsadm's print_largenum: exact below 100 million, then K/M/G/T, in a 9-wide column. */
function largeNum(n: number): string {
  if (n < 1e8) return String(n).padStart(9);
  const units: [number, string][] = [[1e9, 'K'], [1e11, 'M'], [1e14, 'G']];
  for (const [below, unit] of units) {
    if (n < below) return `${Math.floor(n / { K: 1e3, M: 1e6, G: 1e9 }[unit]!)}`.padStart(8) + unit;
  }
  return `${Math.floor(n / 1e12)}`.padStart(8) + 'T';
}

function destLine(view: ListView, d: Destination, st: DestStats): string {
  const name = `  -> ${hostPort(d.family, d.address, d.port).padEnd(28)}`;
  switch (view) {
    case 'plain':
      return `${name} ${FORWARD_NAMES[d.forward].padEnd(7)} ${String(d.weight).padEnd(6)} ${String(st.activeConns).padEnd(10)} ${String(st.inactConns).padEnd(10)}`;
    case 'stats':
      return name + [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes].map(largeNum).join('');
    case 'rate':
      return name + [st.cps, st.inpps, st.outpps, st.inbps, st.outbps].map(largeNum).join('');
    case 'thresholds':
      return `${name} ${[d.upperThreshold, d.lowerThreshold, st.activeConns, st.inactConns].map((n) => String(n).padEnd(10)).join(' ')}`;
    case 'persistent-conn':
      return `${name} ${String(d.weight).padEnd(9)} ${String(st.persistConns).padEnd(11)} ${String(st.activeConns).padEnd(10)} ${String(st.inactConns).padEnd(10)}`;
  }
}

function serviceLine(view: ListView, s: Service, st: Stats): string {
  switch (view) {
    case 'stats': return serviceName(s).padEnd(33) + [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes].map(largeNum).join('');
    case 'rate': return serviceName(s).padEnd(33) + [st.cps, st.inpps, st.outpps, st.inbps, st.outbps].map(largeNum).join('');
    default: return serviceName(s) + serviceFlags(s);
  }
}

const PROTO_NUMBER = { tcp: 6, udp: 17, sctp: 132 } as const;

/** Address as a comparable hex string of fixed width (IPv4 8 digits, IPv6 32). */
function addrOrder(family: 4 | 6, a: string): string {
  const b = family === 4 ? parseIpv4(a) : parseIpv6(a);
  return b ? Buffer.from(b).toString('hex') : a;
}
const cmp = (a: number | string, b: number | string): number => (a < b ? -1 : a > b ? 1 : 0);

/** ipvsadm's default order (libipvs ipvs_cmp_services): fwmark, family, protocol, address, port. */
function compareServices(x: Service, y: Service): number {
  const fw = (s: Service) => (s.kind === 'fwmark' ? s.fwmark : 0);
  return cmp(fw(x), fw(y)) || cmp(x.family, y.family) ||
    (x.kind === 'addr' && y.kind === 'addr'
      ? cmp(PROTO_NUMBER[x.protocol], PROTO_NUMBER[y.protocol]) || cmp(addrOrder(x.family, x.address), addrOrder(y.family, y.address)) || cmp(x.port, y.port)
      : 0);
}

/** ipvs_cmp_dests: address, then port. */
const compareDests = (x: Destination, y: Destination): number =>
  cmp(x.family, y.family) || cmp(addrOrder(x.family, x.address), addrOrder(y.family, y.address)) || cmp(x.port, y.port);

/** The whole listing, sorted as ipvsadm -Ln [--stats|--rate|...] sorts and prints it. */
export function formatTable(info: IpvsInfo, table: Table, stats: TableStats | undefined, view: ListView = 'plain'): string {
  const lines = [`IP Virtual Server version ${info.version} (size=${info.connTabSize})`, ...HEADERS[view]];
  for (const [key, s] of [...table].sort((a, b) => compareServices(a[1], b[1]))) {
    const ss: ServiceStats | undefined = stats?.get(key);
    lines.push(serviceLine(view, s, ss?.stats ?? ZERO_STATS));
    for (const [dk, d] of [...s.dests].sort((a, b) => compareDests(a[1], b[1]))) lines.push(destLine(view, d, ss?.dests.get(dk) ?? ZERO_DEST));
  }
  return lines.join('\n') + '\n';
}
