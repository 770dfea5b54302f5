// VRRP wire and protocol types shared by the codec, receive checks and the state machine.
// Field names follow RFC 5798 §5.2 / RFC 3768 §5.3.

export type VrrpVersion = 2 | 3;
export type Family = 4 | 6;

/** RFC 3768 §5.3.6: 0 none, 1 simple text password. (2, IP AH, is obsolete and rejected.) */
export type AuthType = 0 | 1;

/** One VRRP advertisement, independent of the IP header that carried it. */
export interface Advert {
  version: VrrpVersion;
  vrid: number;            // 1..255
  priority: number;        // 0..255
  /** Advertisement interval in centiseconds. v2 carries whole seconds: stored here as s*100. */
  maxAdverIntCs: number;
  /** Virtual addresses in the packet, textual (IPv4 dotted or IPv6 compressed form). */
  addresses: string[];
  /** v2 only. */
  authType?: AuthType;
  /** v2 simple password (up to 8 bytes, NUL-padded on the wire). */
  authData?: string;
}

/** An advertisement together with what the IP layer told us about it. */
export interface ReceivedAdvert {
  family: Family;
  src: string;
  dst: string;
  /** IPv4 TTL or IPv6 hop limit; undefined when the transport cannot tell (checked by the caller then). */
  ttl: number | undefined;
  advert: Advert;
}

/** Why a packet was dropped. Each reason is counted separately. */
export type RejectReason =
  | 'short'            // shorter than the headers it claims
  | 'ip-header'        // malformed IP header (bad IHL, length, not protocol 112)
  | 'ttl'              // TTL / hop limit is not 255
  | 'version'          // VRRP version field is not the configured version
  | 'type'             // type is not 1 (ADVERTISEMENT)
  | 'checksum'         // VRRP checksum wrong
  | 'length'           // address count does not match the length
  | 'auth-type'        // v2 auth type differs from ours
  | 'auth'             // v2 password differs
  | 'vrid'             // not our virtual router
  | 'not-a-peer'       // unicast mode: the source is none of the configured unicast peers
  | 'interval'         // v2 advert interval differs from ours (RFC 3768 §7.1)
  | 'address-list'     // the address list differs from ours (strict, the default; lenient: v2 non-owners only, RFC 3768 §7.1)
  | 'own'              // our own packet looped back
  | 'destination'      // unicast to a multicast instance, or multicast to a unicast one
  | 'family'           // address family does not match the instance
  | 'unauthenticated'  // udp_auth: no authentication trailer (a forger without the key, or a peer without udp_auth)
  | 'unknown-key'      // udp_auth: the trailer's key id is not in our key file
  | 'bad-mac'          // udp_auth: the HMAC does not verify (altered, re-targeted, spoofed source, wrong key)
  | 'replayed'         // udp_auth: counter not above the last accepted from that sender (replay or reordering)
  | 'unexpected-auth'; // an authenticated advert for an instance without udp_auth (configure it on both nodes)

export interface Reject {
  reason: RejectReason;
  detail: string;
}
