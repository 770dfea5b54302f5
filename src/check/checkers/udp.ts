// UDP_CHECK, as keepalived: a datagram (the payload) on a connected UDP socket. The kernel hands
// a connected socket the ICMP errors about its peer, so a port unreachable comes back as
// ECONNREFUSED on the socket ("refused") and a host or net unreachable as EHOSTUNREACH /
// ENETUNREACH. No reply by the deadline is a success unless a reply is required
// (require_reply), as in keepalived; a reply, when required, must have a length within
// [minReplyLength, maxReplyLength] and, when `reply` is set, start with its bytes (masked
// nibbles ignored; a shorter reply is compared over its own length, as keepalived does).
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { CheckResult, UdpCheckSpec } from '../types.js';
import { Probe, connectUdp, errnoReason, probeOf, tag } from './probe.js';

/** keepalived's UDP_BUFSIZE: what it sends when no payload is configured. */
const RANDOM_PAYLOAD_BYTES = 32;

class UdpProbe extends Probe {
  private socket: Socket | undefined;
  private sent = false;

  constructor(private readonly spec: UdpCheckSpec) { super(); }

  protected begin(): void {
    const t = this.spec.target;
    const s = createSocket(t.family === 6 ? 'udp6' : 'udp4');
    this.socket = s;
    tag(s, this);
    // Stays attached after the verdict: a late error must not become an uncaught 'error'.
    s.on('error', onError);
    s.on('message', onMessage);
    if (t.bindAddress === undefined) connectUdp(s, t.port, t.address, onConnect);
    else s.bind({ address: t.bindAddress, port: 0, exclusive: true }, onBound);
  }

  bound(): void { connectUdp(this.socket!, this.spec.target.port, this.spec.target.address, onConnect); }

  connected(): void { this.socket!.send(this.spec.payload ?? randomBytes(RANDOM_PAYLOAD_BYTES), (err) => this.wasSent(err)); }

  wasSent(err: Error | null): void {
    if (err) this.finish(false, errnoReason(err));
    else this.sent = true;
  }

  message(msg: Buffer): void {
    const s = this.spec;
    if (!s.requireReply) { this.finish(true, 'reply'); return; }
    if (msg.length < s.minReplyLength || msg.length > s.maxReplyLength) { this.finish(false, `reply length ${msg.length}`); return; }
    if (s.reply !== undefined && !replyMatches(msg, s.reply.data, s.reply.mask)) { this.finish(false, 'reply mismatch'); return; }
    this.finish(true, 'reply');
  }

  override onTimeout(): void {
    if (this.sent && !this.spec.requireReply) this.finish(true, 'no reply (none required)');
    else this.finish(false, 'timeout');
  }

  protected release(): void {
    try { this.socket?.close(); } catch { /* already closed */ }
  }
}

function onError(this: Socket, err: Error): void { probeOf<UdpProbe>(this).finish(false, errnoReason(err)); }
function onMessage(this: Socket, msg: Buffer): void { probeOf<UdpProbe>(this).message(msg); }
function onConnect(this: Socket, err?: Error): void {
  if (err) probeOf<UdpProbe>(this).finish(false, errnoReason(err));
  else probeOf<UdpProbe>(this).connected();
}
function onBound(this: Socket): void { probeOf<UdpProbe>(this).bound(); }

export function udpCheck(spec: UdpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  return new UdpProbe(spec).run(signal, spec.timeoutMs);
}

/** keepalived check_udp_reply: the first min(reply, expected) bytes agree where mask bits are 0. */
export function replyMatches(reply: Uint8Array, data: Uint8Array, mask: Uint8Array): boolean {
  const n = Math.min(reply.length, data.length);
  for (let i = 0; i < n; i++) if (((reply[i]! ^ data[i]!) & ~mask[i]! & 0xff) !== 0) return false;
  return true;
}

/**
 * keepalived's HEX_STR (read_hex_str): whitespace-separated groups of hex digits, each read two
 * digits a byte from the left, a last odd digit a byte of its own ("Ab12f 3 456" is AB 12 0F 03
 * 45 06). With `masks`, an x or X digit matches anything (its mask nibble is set). Undefined
 * when the text has no digit or another character.
 */
export function parseHexString(text: string, masks: boolean): { data: Uint8Array; mask: Uint8Array } | undefined {
  const data: number[] = [];
  const mask: number[] = [];
  for (const group of text.trim().split(/\s+/)) {
    if (group === '') continue;
    for (let i = 0; i < group.length; i += 2) {
      const pair = group.slice(i, i + 2);
      let d = 0, m = 0;
      for (const c of pair) {
        d <<= 4; m <<= 4;
        if (/[0-9a-fA-F]/.test(c)) d |= parseInt(c, 16);
        else if (masks && (c === 'x' || c === 'X')) m |= 0xf;
        else return undefined;
      }
      data.push(d);
      mask.push(m);
    }
  }
  return data.length === 0 ? undefined : { data: Uint8Array.from(data), mask: Uint8Array.from(mask) };
}
