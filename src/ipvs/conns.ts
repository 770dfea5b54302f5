// IPVS connection entries, as `ipvsadm -Lnc` shows them. IPVS has no generic-netlink command for
// connections: ipvsadm (and duet) read /proc/net/ip_vs_conn of the caller's network namespace.
// Pure: parse that text into typed entries, and format entries exactly as ipvsadm -Lnc does.
//
// The kernel's format (net/netfilter/ipvs/ip_vs_conn.c, ip_vs_conn_seq_show), one file for both
// families (there is no ip_vs_conn6):
//   Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
//   TCP 0A000102 A0D6 0A000101 0050 0A000202 1F90 ESTABLISHED     898
//   TCP fd00:0001:0000:...:0002 B716 fd00:0001:...:0001 0050 fd00:0002:...:0002 1F90 ESTABLISHED     898
// IPv4 addresses are 8 hex digits (host order of the value, i.e. 0A000102 = 10.0.1.2), IPv6 ones
// are %pI6 (full, colon-separated), ports 4 hex digits, expires whole seconds (%7u), then, only for
// connections with persistence-engine data (e.g. --pe sip), " <pe name> <pe data>".
// The destination may be of the other family than client and virtual (a mixed-family service):
// each address is parsed by its own shape.
//
// ipvsadm's layout (ipvsadm.c list_conn/print_conn, -n):
//   header "IPVS connection entries"
//          "pro expire %-11s %-18s %-18s %s" (state source virtual destination)
//   row    "%-3s %-6s %-11s %-18s %-18s %s" (proto, MM:SS, state, client, virtual, destination)
// and with --persistent-conn the header gains " %-16s %s" ("pe name", "pe_data") after
// destination padded to 18, rows with pe data are "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s"
// (ipvsadm pads destination to 16 and pe name to 18 there, not as its header: reproduced).
// Addresses are "a.b.c.d:port" and "[v6]:port". ipvsadm decides the family of all three addresses
// from the client's; duet formats each by its own family (they differ only for mixed-family
// services, where ipvsadm prints garbage for the destination).
import { formatIpv6, parseIpv6 } from '../core/addr.js';
import { DuetError } from '../core/errors.js';

export type ConnFamily = 4 | 6;

export interface ConnEndpoint {
  readonly family: ConnFamily;
  /** Canonical text: dotted quad, or RFC 5952 IPv6. */
  readonly address: string;
  readonly port: number;
}

export interface ConnEntry {
  /** As the kernel names it: TCP, UDP, SCTP, ICMP, ICMPv6, IP (templates of fwmark services), IP_<n>. */
  readonly protocol: string;
  readonly client: ConnEndpoint;
  readonly virtual: ConnEndpoint;
  readonly destination: ConnEndpoint;
  /** Kernel state name: ESTABLISHED, SYN_RECV, TIME_WAIT, CLOSE, UDP, ASSURED (persistence templates), NONE, ... */
  readonly state: string;
  /** Seconds until the entry expires. */
  readonly expireS: number;
  /** Persistence engine name and data, present only for connections handled by one (e.g. sip). */
  readonly peName?: string;
  readonly peData?: string;
}

export class ConnParseError extends DuetError {
  readonly code = 'DUET_E_CONN_PARSE';
  constructor(
    readonly line: number,
    readonly text: string,
    reason: string,
  ) {
    super(`/proc/net/ip_vs_conn line ${line}: ${reason}: ${JSON.stringify(text)}`);
  }
}

export const CONN_PROC_FILE = '/proc/net/ip_vs_conn';

function parseAddr(text: string): { family: ConnFamily; address: string } | undefined {
  if (/^[0-9A-Fa-f]{8}$/.test(text)) {
    const v = Number.parseInt(text, 16);
    return { family: 4, address: [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.') };
  }
  if (text.includes(':')) {
    const b = parseIpv6(text);
    if (b) return { family: 6, address: formatIpv6(b) };
  }
  return undefined;
}

function parsePort(text: string): number | undefined {
  return /^[0-9A-Fa-f]{1,4}$/.test(text) ? Number.parseInt(text, 16) : undefined;
}

/**
 * Parses /proc/net/ip_vs_conn (or ip_vs_conn_sync, whose extra Origin column is skipped). The
 * header line is optional; empty lines are ignored. Throws ConnParseError on a malformed row.
 */
export function parseConns(text: string): ConnEntry[] {
  const out: ConnEntry[] = [];
  const lines = text.split('\n');
  let sync = false;
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (line.trim() === '') return;
    if (/^Pro\s+FromIP\b/.test(line)) {
      sync = /\bOrigin\b/.test(line);
      return;
    }
    const f = line.trim().split(/\s+/);
    const fail = (why: string): never => {
      throw new ConnParseError(i + 1, raw, why);
    };
    const min = sync ? 10 : 9;
    if (f.length < min) fail(`expected at least ${min} fields, got ${f.length}`);
    const [proto, ca, cp, va, vp, da, dp, state] = f as [string, string, string, string, string, string, string, string];
    const endpoint = (a: string, p: string, what: string): ConnEndpoint => {
      const addr = parseAddr(a) ?? fail(`bad ${what} address`);
      const port = parsePort(p) ?? fail(`bad ${what} port`);
      return { ...addr, port };
    };
    const client = endpoint(ca, cp, 'client');
    const virtual = endpoint(va, vp, 'virtual');
    const destination = endpoint(da, dp, 'destination');
    const exp = f[sync ? 9 : 8]!;
    if (!/^\d+$/.test(exp)) fail('bad expires');
    const rest = f.slice(sync ? 10 : 9);
    const e: ConnEntry = { protocol: proto, client, virtual, destination, state, expireS: Number(exp) };
    out.push(rest.length > 0 ? { ...e, peName: rest[0]!, peData: rest.slice(1).join(' ') } : e);
  });
  return out;
}

/** "10.0.1.2:80", "[fd00:1::2]:80" (ipvsadm -n). */
export function formatEndpoint(e: ConnEndpoint): string {
  return e.family === 6 ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** ipvsadm's MM:SS ("%02d:%02d" of minutes and seconds; minutes may exceed 99). */
export function formatExpire(s: number): string {
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

const pad = (s: string, n: number): string => s.padEnd(n);

export interface ConnFormatOptions {
  /** ipvsadm --persistent-conn: pe name and data columns. */
  persistentConn?: boolean;
}

/** The whole listing, byte for byte as `ipvsadm -Lnc [--persistent-conn]` prints it. */
export function formatConns(entries: readonly ConnEntry[], o: ConnFormatOptions = {}): string {
  const lines = ['IPVS connection entries'];
  const head = `pro expire ${pad('state', 11)} ${pad('source', 18)} ${pad('virtual', 18)}`;
  lines.push(o.persistentConn ? `${head} ${pad('destination', 18)} ${pad('pe name', 16)} pe_data` : `${head} destination`);
  for (const e of entries) {
    const base = `${pad(e.protocol, 3)} ${pad(formatExpire(e.expireS), 6)} ${pad(e.state, 11)} ${pad(formatEndpoint(e.client), 18)} ${pad(formatEndpoint(e.virtual), 18)}`;
    // ipvsadm prints the pe columns only when sscanf found both (n == 11).
    if (o.persistentConn && e.peName !== undefined && e.peData !== undefined && e.peData !== '') {
      lines.push(`${base} ${pad(formatEndpoint(e.destination), 16)} ${pad(e.peName, 18)} ${e.peData}`);
    } else {
      lines.push(`${base} ${formatEndpoint(e.destination)}`);
    }
  }
  return lines.join('\n') + '\n';
}
