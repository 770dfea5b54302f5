// HMAC-SHA256 authentication of VRRP adverts on the UDP transport (duet to duet only; RFC VRRP
// has nothing like it: v2's `auth: pass` is cleartext, v3 has no authentication). Pure: the key
// ring comes from the key file (parseKeyFile here, read by config/key-file.ts), the wall clock
// is injected.
//
// A sealed advert is the VRRP payload as today followed by a 48-byte trailer:
//   magic "dua" 0x01 (4) | key id u32 (4) | counter u64 (8) | HMAC-SHA256 (32)
// The MAC covers a domain label, the IPv4 source and destination addresses, the UDP port, the
// payload length and payload, and the trailer up to the MAC: a packet cannot be altered, sent
// from another address, re-targeted to another node or group, or moved to another port.
//
// Replay protection: the counter is (sender wall-clock ms << 16) raised to last + 1 when the
// clock has not moved on (or went back) within a run, so it increases strictly for the life of
// a sender and, across its restarts, as long as its clock does not step back past the time of
// its last advert (WireGuard's handshake timestamps make the same trade). A receiver keeps the
// highest counter per sender and accepts only higher ones: a replayed or reordered advert is
// dropped. A receiver that restarts starts with no state and takes the peer's next advert as it
// comes: no transition storm (see docs/security-udp-auth.md for what that leaves open).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseIpv4 } from '../core/addr.js';
import { BugError } from '../core/errors.js';
import { type Result, ok, err } from '../core/result.js';

export const AUTH_MAGIC: readonly number[] = [0x64, 0x75, 0x61, 0x01];
export const MAC_LEN = 32;
export const TRAILER_LEN = 4 + 4 + 8 + MAC_LEN;
export const MIN_KEY_BYTES = 16;
export const MAX_KEY_BYTES = 1024;
/** Counter values per millisecond of sender wall clock. */
const SEQ_BITS = 16n;
const LABEL = new TextEncoder().encode('duet-vrrp-udp-auth/1');

export interface AuthKey {
  /** 1..2^32-1, carried in the clear so the receiver knows which key to try. */
  id: number;
  secret: Uint8Array;
}

/** Keys in file order; the first one signs what this node sends, any one is accepted. */
export type KeyRing = readonly AuthKey[];

/** Where the packet goes: bound into the MAC. IPv4 dotted quads. */
export interface AuthContext {
  src: string;
  dst: string;
  port: number;
}

export type AuthRejectReason = 'unauthenticated' | 'unknown-key' | 'bad-mac' | 'replayed';
export interface AuthReject { reason: AuthRejectReason; detail: string }

export interface Opened {
  payload: Uint8Array;
  keyId: number;
  counter: bigint;
}

/** The trailer's fields without checking anything but its size and magic (undefined: none). */
export function readTrailer(msg: Uint8Array): { payload: Uint8Array; keyId: number; counter: bigint; mac: Uint8Array } | undefined {
  if (msg.length < TRAILER_LEN + 1) return undefined;
  const t = msg.length - TRAILER_LEN;
  if (AUTH_MAGIC.some((b, n) => msg[t + n] !== b)) return undefined;
  const dv = new DataView(msg.buffer, msg.byteOffset + t, TRAILER_LEN);
  return { payload: msg.subarray(0, t), keyId: dv.getUint32(4), counter: dv.getBigUint64(8), mac: msg.subarray(t + 16) };
}

function addr4(text: string): Uint8Array {
  const a = parseIpv4(text);
  if (!a) throw new BugError(`udp auth: ${JSON.stringify(text)} is not an IPv4 address`);
  return a;
}

function computeMac(secret: Uint8Array, ctx: AuthContext, payload: Uint8Array, head: Uint8Array): Buffer {
  const fixed = new Uint8Array(12);
  fixed.set(addr4(ctx.src), 0);
  fixed.set(addr4(ctx.dst), 4);
  new DataView(fixed.buffer).setUint16(8, ctx.port);
  new DataView(fixed.buffer).setUint16(10, payload.length);
  return createHmac('sha256', secret).update(LABEL).update(fixed).update(payload).update(head).digest();
}

function trailerHead(keyId: number, counter: bigint): Uint8Array {
  const head = new Uint8Array(16);
  head.set(AUTH_MAGIC, 0);
  const dv = new DataView(head.buffer);
  dv.setUint32(4, keyId);
  dv.setBigUint64(8, counter);
  return head;
}

/** payload + trailer, signed with key at counter. */
export function seal(payload: Uint8Array, ctx: AuthContext, key: AuthKey, counter: bigint): Uint8Array {
  if (counter < 0n || counter >= 1n << 64n) throw new BugError(`udp auth: counter ${counter} out of range`);
  const head = trailerHead(key.id, counter);
  const out = new Uint8Array(payload.length + TRAILER_LEN);
  out.set(payload, 0);
  out.set(head, payload.length);
  out.set(computeMac(key.secret, ctx, payload, head), payload.length + head.length);
  return out;
}

/** Check the trailer's MAC against the ring (no replay check: see ReplayWindow). */
export function open(msg: Uint8Array, ctx: AuthContext, ring: KeyRing): Result<Opened, AuthReject> {
  const t = readTrailer(msg);
  if (!t) return err({ reason: 'unauthenticated', detail: `no udp_auth trailer (${msg.length} bytes)` });
  const key = ring.find((k) => k.id === t.keyId);
  if (!key) return err({ reason: 'unknown-key', detail: `key id ${t.keyId} is not in the key file (have ${ring.map((k) => k.id).join(', ') || 'none'})` });
  const want = computeMac(key.secret, ctx, t.payload, trailerHead(t.keyId, t.counter));
  if (!timingSafeEqual(want, t.mac)) return err({ reason: 'bad-mac', detail: `MAC does not verify with key id ${t.keyId} for ${ctx.src} -> ${ctx.dst}:${ctx.port}` });
  return ok({ payload: t.payload, keyId: t.keyId, counter: t.counter });
}

/** The sender's counter: strictly increasing within a run, and from the wall clock across runs. */
export class CounterSource {
  private last = -1n;
  constructor(private readonly wallNow: () => number) {}
  next(): bigint {
    const fromClock = BigInt(Math.max(0, Math.floor(this.wallNow()))) << SEQ_BITS;
    this.last = fromClock > this.last ? fromClock : this.last + 1n;
    return this.last;
  }
}

/** The wall-clock time a counter was made at (ms), for log details. */
export const counterMs = (c: bigint): number => Number(c >> SEQ_BITS);

/**
 * The highest counter accepted per sender; only higher ones pass. Bounded: only adverts whose MAC
 * verified reach it, and the MAC binds the source address, so its senders are the keys' holders.
 */
export class ReplayWindow {
  private readonly last = new Map<string, bigint>();
  constructor(private readonly maxSenders = 256) {}

  check(sender: string, counter: bigint): Result<void, AuthReject> {
    const prev = this.last.get(sender);
    if (prev !== undefined && counter <= prev) {
      const d = prev - counter;
      return err({ reason: 'replayed', detail: `counter ${counter} from ${sender} is ${d === 0n ? 'the last one accepted again' : `${d} below the last one accepted`} (replayed or reordered)` });
    }
    return ok(undefined);
  }

  accept(sender: string, counter: bigint): void {
    this.last.delete(sender);
    if (this.last.size >= this.maxSenders) this.last.delete(this.last.keys().next().value!);
    this.last.set(sender, counter);
  }

  get size(): number { return this.last.size; }
}

/**
 * One instance's authentication: seals what it sends with the ring's first key, opens what it
 * receives (any key of the ring) and keeps the replay window. setKeys (a reload that rotated
 * keys) keeps the counter and the window.
 */
export class AdvertAuth {
  private readonly counter: CounterSource;
  private readonly window = new ReplayWindow();
  constructor(private ring: KeyRing, wallNow: () => number) {
    this.counter = new CounterSource(wallNow);
  }

  setKeys(ring: KeyRing): void { this.ring = ring; }
  get keyIds(): number[] { return this.ring.map((k) => k.id); }

  seal(payload: Uint8Array, ctx: AuthContext): Uint8Array {
    const key = this.ring[0];
    if (!key) throw new BugError('udp auth: no key to send with');
    return seal(payload, ctx, key, this.counter.next());
  }

  open(msg: Uint8Array, ctx: AuthContext): Result<Opened, AuthReject> {
    const o = open(msg, ctx, this.ring);
    if (!o.ok) return o;
    const fresh = this.window.check(ctx.src, o.value.counter);
    if (!fresh.ok) return fresh;
    this.window.accept(ctx.src, o.value.counter);
    return o;
  }
}

/**
 * The key file's text: one key a line, `ID SECRET`, ID a whole number 1..4294967295 and SECRET
 * hex (e.g. `openssl rand -hex 32`) or `base64:...`, at least 16 bytes; `#` comments and blank
 * lines. The first key signs; all are accepted. Errors give line numbers, never key material.
 */
export function parseKeyFile(text: string): Result<AuthKey[], string[]> {
  const keys: AuthKey[] = [];
  const errors: string[] = [];
  const seen = new Map<number, number>();
  text.split('\n').forEach((raw, n) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const at = `line ${n + 1}`;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) { errors.push(`${at}: expected 'ID SECRET' (2 fields), got ${parts.length}`); return; }
    const [idText, secretText] = parts as [string, string];
    const id = /^[0-9]{1,10}$/.test(idText) ? Number(idText) : NaN;
    if (!(id >= 1 && id <= 0xffffffff)) { errors.push(`${at}: key id must be a whole number 1..4294967295`); return; }
    let secret: Uint8Array | undefined;
    if (secretText.startsWith('base64:')) {
      const b = secretText.slice(7);
      if (/^[A-Za-z0-9+/]+={0,2}$/.test(b) && b.length % 4 === 0) secret = new Uint8Array(Buffer.from(b, 'base64'));
    } else if (/^([0-9a-fA-F]{2})+$/.test(secretText)) {
      secret = new Uint8Array(Buffer.from(secretText, 'hex'));
    }
    if (!secret) { errors.push(`${at}: key ${id}: the secret is neither hex nor base64:...`); return; }
    if (secret.length < MIN_KEY_BYTES) { errors.push(`${at}: key ${id}: the secret is ${secret.length} bytes, at least ${MIN_KEY_BYTES} are needed`); return; }
    if (secret.length > MAX_KEY_BYTES) { errors.push(`${at}: key ${id}: the secret is ${secret.length} bytes, at most ${MAX_KEY_BYTES}`); return; }
    const prev = seen.get(id);
    if (prev !== undefined) { errors.push(`${at}: key id ${id} is already on line ${prev}`); return; }
    seen.set(id, n + 1);
    keys.push({ id, secret });
  });
  if (errors.length) return err(errors);
  if (!keys.length) return err(['no keys (expected lines of ID SECRET)']);
  return ok(keys);
}
