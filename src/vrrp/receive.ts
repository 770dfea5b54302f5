// Receiver checks that need our configuration: RFC 5798 §7.1 (v3) and RFC 3768 §7.1 (v2).
// The packet is already well-formed (codec.ts checked size, version range, type, length, checksum,
// auth type range). Pure; the caller counts and logs each rejection and an address mismatch.
import { type Result, ok, err } from '../core/result.js';
import type { Advert, AuthType, Family, ReceivedAdvert, Reject, RejectReason, VrrpVersion } from './types.js';
import { canonicalAddr, stripZone } from '../core/addr.js';
import { trimAuthData } from './codec.js';

/** What checkReceived needs to know about one configured virtual router. */
export interface ReceiveConfig {
  version: VrrpVersion;
  vrid: number;
  family: Family;
  /** Our advertisement interval; v2 only compares it (v3 backups learn the master's). */
  adverIntCs: number;
  /** v2 only. */
  authType: AuthType;
  /** v2 simple password, when authType is 1. */
  authPassword?: string;
  /** Our virtual addresses, compared as a set with the advert's. */
  addresses: readonly string[];
  /** False for transports that cannot see the TTL reliably, or for unicast peers across routers. */
  checkTtl: boolean;
  /** Unicast (min_ttl / max_ttl): the TTLs accepted instead of 255 only, as keepalived's. */
  ttlRange?: { min: number; max: number };
  /**
   * Which destination we expect: the VRRP group when multicasting, our own address with
   * unicast peers. keepalived drops the other kind; so do we. Unset: not checked.
   */
  expectDst?: 'multicast' | 'unicast';
  /**
   * Unicast mode: the peers we send to, the only routers we accept adverts from (keepalived's
   * check_unicast_src, always on here). Without it any host that can reach us (over UDP: any
   * host that routes to the port) could demote the master. Empty: multicast, not checked.
   */
  peers?: readonly string[];
  /**
   * false (strict, the default): an advert whose address list differs from ours is dropped, as
   * keepalived does; otherwise any host that can send a well-formed advert with a high priority
   * and its own list takes the VIP away. true: the RFCs' rule, for mixed deployments during a
   * change of VIPs: v3 (and a v2 owner) accepted and flagged, v2 non-owners dropped.
   */
  lenientAddressList?: boolean;
}

const isMulticast = (family: Family, dst: string): boolean =>
  family === 4 ? /^2(2[4-9]|3\d)\./.test(dst) : dst.toLowerCase().startsWith('ff');

export interface Accepted {
  advert: Advert;
  /** The advert's address set differs from ours: accepted anyway, the caller logs it. */
  addressMismatch: boolean;
}

const reject = (reason: RejectReason, detail: string): { ok: false; error: Reject } => err({ reason, detail });

/** Canonical text when it parses for this family (zone index dropped), else the text as given. */
const canon = (family: Family, text: string): string => canonicalAddr(family, stripZone(text)) ?? text;

function isOwn(family: Family, src: string, own: ReadonlySet<string>): boolean {
  if (own.has(src)) return true;
  const c = canon(family, src);
  for (const a of own) if (canon(family, a) === c) return true;
  return false;
}

function sameAddressSet(family: Family, ours: readonly string[], theirs: readonly string[]): boolean {
  const a = new Set(ours.map((x) => canon(family, x)));
  const b = new Set(theirs.map((x) => canon(family, x)));
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

export function checkReceived(
  inst: ReceiveConfig,
  r: ReceivedAdvert,
  own: { addresses: ReadonlySet<string> },
): Result<Accepted, Reject> {
  const a = r.advert;
  if (r.family !== inst.family) return reject('family', `IPv${r.family} advert for an IPv${inst.family} instance`);

  // "MUST verify that the IPv4 TTL or IPv6 Hop Limit is 255." (v2: "that the IP TTL is 255")
  // Unicast peers may be routed: min_ttl / max_ttl widen the range (keepalived's per-peer check).
  if (inst.checkTtl && r.ttl !== undefined) {
    const range = inst.ttlRange;
    if (!range && r.ttl !== 255) return reject('ttl', `TTL ${r.ttl}, not 255`);
    if (range && (r.ttl < range.min || r.ttl > range.max)) return reject('ttl', `TTL ${r.ttl}, not in ${range.min}..${range.max} (min_ttl..max_ttl)`);
  }

  // "MUST verify that the VRRP version is 3." (v2: "... is 2.")
  if (a.version !== inst.version) return reject('version', `version ${a.version}, configured ${inst.version}`);

  // "MUST verify that the VRID is configured on the receiving interface"
  if (a.vrid !== inst.vrid) return reject('vrid', `VRID ${a.vrid}, configured ${inst.vrid}`);

  if (inst.expectDst && isMulticast(r.family, r.dst) !== (inst.expectDst === 'multicast')) {
    return reject('destination', `${r.dst}: expected a ${inst.expectDst} destination`);
  }

  // Multicast loopback or a reflected packet: our own advertisement.
  if (isOwn(r.family, r.src, own.addresses)) return reject('own', `source ${r.src} is ours`);

  if (inst.peers?.length && !inst.peers.some((p) => canon(r.family, p) === canon(r.family, r.src))) {
    return reject('not-a-peer', `source ${r.src} is not a unicast_peer (${inst.peers.join(', ')})`);
  }

  if (inst.version === 2) {
    // RFC 3768: "MUST perform authentication specified by Auth Type"
    const authType = a.authType ?? 0;
    if (authType !== inst.authType) return reject('auth-type', `auth type ${authType}, configured ${inst.authType}`);
    if (authType === 1 && (a.authData ?? '') !== trimAuthData(inst.authPassword ?? '')) {
      return reject('auth', 'simple password differs');
    }
    // RFC 3768: "MUST verify that the Adver Interval in the packet is the same as the locally
    // configured for this virtual router"
    if (a.maxAdverIntCs !== inst.adverIntCs) {
      return reject('interval', `advert interval ${a.maxAdverIntCs / 100} s, configured ${inst.adverIntCs / 100} s`);
    }
  }

  const addressMismatch = !sameAddressSet(inst.family, inst.addresses, a.addresses);
  const differ = (): string => `addresses [${a.addresses.join(', ')}] differ from ours [${inst.addresses.join(', ')}]`;
  if (addressMismatch && !inst.lenientAddressList) return reject('address-list', differ());
  // Lenient: RFC 3768 §7.1: "MUST verify that the Count IP Addrs and the list of IP Addresses matches ...
  // If the packet was not generated by the address owner (Priority does not equal 255), the
  // receiver MUST drop the packet". RFC 5798 §7.1 relaxes this to "SHOULD log the event": the
  // caller logs addressMismatch for v3 (and for a v2 owner) and goes on.
  if (addressMismatch && a.version === 2 && a.priority !== 255) {
    return reject('address-list', differ());
  }
  return ok({ advert: a, addressMismatch });
}
