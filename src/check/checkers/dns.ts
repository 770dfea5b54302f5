// DNS_CHECK, as keepalived: one query (recursion desired) on a connected UDP socket; datagrams
// that are too short, carry another id or are not responses are ignored (keepalived waits on);
// the first response decides: healthy on NOERROR. Beyond keepalived: a truncated response (TC)
// is asked again over TCP (RFC 7766), and `expect` lists values that must all be among the
// answers of the query type. Wire format by npm dns-packet.
import { randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import type DnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import { canonicalAddr } from '../../core/addr.js';
import type { CheckResult, DnsCheckSpec } from '../types.js';
import { Probe, connectUdp, errnoReason, probeOf, tag } from './probe.js';
import { connectTo } from './tcp.js';

// Loaded at the first DNS check, not when the worker starts (most configs have none).
const require = createRequire(import.meta.url);
let dnsPacketModule: typeof DnsPacket | undefined;
const dnsPacket = (): typeof DnsPacket => (dnsPacketModule ??= require('dns-packet') as typeof DnsPacket);

const HEADER_BYTES = 12;
/** A TCP answer longer than this is not a health check's business (the length field allows 64 KiB). */
const MAX_TCP_BYTES = 65535 + 2;

class DnsProbe extends Probe {
  private udp: UdpSocket | undefined;
  private tcp: Socket | undefined;
  private tcpBuf = Buffer.alloc(0);
  private readonly id = randomInt(0, 0x10000);

  constructor(private readonly spec: DnsCheckSpec) { super(); }

  protected begin(): void {
    const t = this.spec.target;
    const s = createSocket(t.family === 6 ? 'udp6' : 'udp4');
    this.udp = s;
    tag(s, this);
    s.on('error', onUdpError);
    s.on('message', onUdpMessage);
    if (t.bindAddress === undefined) connectUdp(s, t.port, t.address, onUdpConnect);
    else s.bind({ address: t.bindAddress, port: 0, exclusive: true }, onUdpBound);
  }

  bound(): void { connectUdp(this.udp!, this.spec.target.port, this.spec.target.address, onUdpConnect); }

  udpConnected(): void { this.udp!.send(dnsQuery(this.spec, this.id), (err) => { if (err) this.finish(false, errnoReason(err)); }); }

  udpMessage(msg: Buffer): void {
    if (msg.length < HEADER_BYTES || msg.readUInt16BE(0) !== this.id || (msg[2]! & 0x80) === 0) return;
    if ((msg[2]! & 0x02) !== 0) { this.overTcp(); return; }
    this.answer(msg);
  }

  /** Truncated: ask again over TCP, on the same address and port. */
  private overTcp(): void {
    try { this.udp?.close(); } catch { /* closed */ }
    this.udp = undefined;
    const s = connectTo(this.spec.target);
    this.tcp = s;
    tag(s, this);
    s.on('error', onTcpError);
    s.once('connect', onTcpConnect);
    s.on('data', onTcpData);
    s.once('end', onTcpEnd);
  }

  tcpConnected(): void { this.tcp!.write(dnsPacket().streamEncode(queryPacket(this.spec, this.id))); }

  tcpData(chunk: Buffer): void {
    this.tcpBuf = Buffer.concat([this.tcpBuf, chunk]);
    if (this.tcpBuf.length > MAX_TCP_BYTES) { this.finish(false, 'bad reply'); return; }
    if (this.tcpBuf.length < 2) return;
    const len = this.tcpBuf.readUInt16BE(0);
    if (this.tcpBuf.length < 2 + len) return;
    const msg = this.tcpBuf.subarray(2, 2 + len);
    if (msg.length < HEADER_BYTES || msg.readUInt16BE(0) !== this.id || (msg[2]! & 0x80) === 0) { this.finish(false, 'bad reply (tcp)'); return; }
    this.answer(msg, ' (tcp)');
  }

  tcpEnded(): void { this.finish(false, 'closed (tcp)'); }

  private answer(msg: Buffer, via = ''): void {
    let p: DecodedPacket;
    try { p = dnsPacket().decode(msg); } catch { this.finish(false, `bad reply${via}`); return; }
    const v = judgeDns(this.spec, p);
    this.finish(v.ok, v.reason + via);
  }

  protected release(): void {
    try { this.udp?.close(); } catch { /* closed */ }
    this.tcp?.destroy();
  }
}

function onUdpError(this: UdpSocket, err: Error): void { probeOf<DnsProbe>(this).finish(false, errnoReason(err)); }
function onUdpMessage(this: UdpSocket, msg: Buffer): void { probeOf<DnsProbe>(this).udpMessage(msg); }
function onUdpBound(this: UdpSocket): void { probeOf<DnsProbe>(this).bound(); }
function onUdpConnect(this: UdpSocket, err?: Error): void {
  if (err) probeOf<DnsProbe>(this).finish(false, errnoReason(err));
  else probeOf<DnsProbe>(this).udpConnected();
}
function onTcpError(this: Socket, err: Error): void { probeOf<DnsProbe>(this).finish(false, `${errnoReason(err)} (tcp)`); }
function onTcpConnect(this: Socket): void { probeOf<DnsProbe>(this).tcpConnected(); }
function onTcpData(this: Socket, chunk: Buffer): void { probeOf<DnsProbe>(this).tcpData(chunk); }
function onTcpEnd(this: Socket): void { probeOf<DnsProbe>(this).tcpEnded(); }

export function dnsCheck(spec: DnsCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  return new DnsProbe(spec).run(signal, spec.timeoutMs);
}

function queryPacket(spec: DnsCheckSpec, id: number): Packet {
  return {
    type: 'query',
    id,
    flags: dnsPacket().RECURSION_DESIRED,
    questions: [{ type: spec.queryType, name: spec.name === '' ? '.' : spec.name, class: 'IN' }],
  };
}

/** The query as sent over UDP. */
export function dnsQuery(spec: DnsCheckSpec, id: number): Buffer {
  return dnsPacket().encode(queryPacket(spec, id));
}

/** A response's verdict: NOERROR, and every expected value among the answers of the query type. */
export function judgeDns(spec: DnsCheckSpec, p: DecodedPacket): { ok: boolean; reason: string } {
  const rcode = (p as { rcode?: unknown }).rcode;
  if (rcode !== 'NOERROR') return { ok: false, reason: `rcode ${String(rcode)}` };
  const got = new Set<string>();
  for (const a of p.answers ?? []) if (a.type === spec.queryType) got.add(answerText(a));
  const n = `${got.size} answer${got.size === 1 ? '' : 's'}`;
  for (const want of spec.expect) {
    if (!got.has(normalizeExpected(spec.queryType, want))) return { ok: false, reason: `NOERROR, ${n}, missing ${want}` };
  }
  return { ok: true, reason: `NOERROR, ${n}` };
}

/** An answer's data as one comparable string: canonical address, lower-case name, or TXT text. */
export function answerText(a: Answer): string {
  const d = (a as { data?: unknown }).data;
  switch (a.type) {
    case 'A': return canonicalAddr(4, String(d)) ?? String(d);
    case 'AAAA': return canonicalAddr(6, String(d)) ?? String(d);
    case 'TXT': return (Array.isArray(d) ? d : [d]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x))).join('');
    case 'MX': return nameText((d as { exchange: string }).exchange);
    case 'SOA': return nameText((d as { mname: string }).mname);
    case 'SRV': return nameText((d as { target: string }).target);
    default: return nameText(String(d));
  }
}

/** An expected value in the form answerText gives. */
export function normalizeExpected(type: DnsCheckSpec['queryType'], want: string): string {
  if (type === 'A') return canonicalAddr(4, want) ?? want;
  if (type === 'AAAA') return canonicalAddr(6, want) ?? want;
  if (type === 'TXT') return want;
  return nameText(want);
}

const nameText = (n: string): string => n.toLowerCase().replace(/\.$/, '');
