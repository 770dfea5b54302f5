// What a health check is (resolved from config) and what one run of it yields, and what the
// engine needs of the virtual and real servers it checks (the config layer produces them).
// Checkers (src/check/checkers/*) turn a spec into a result with I/O; everything that decides
// what a result means (rise/fall, weights, quorum) is pure and lives beside them.

import type { Destination, ServiceIdentity } from '../ipvs/model.js';
import type { ScriptPolicy } from '../core/script-security.js';

/** Where a check connects: the real server unless connect_ip/connect_port say otherwise. */
export interface CheckTarget {
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
  /** Source address to bind (keepalived: bindto). */
  readonly bindAddress?: string;
}

export interface TcpCheckSpec {
  readonly type: 'tcp';
  readonly target: CheckTarget;
  readonly timeoutMs: number;
}

/** An expected status: a code or an inclusive range. */
export interface StatusRange {
  readonly from: number;
  readonly to: number;
}

export interface HttpCheckSpec {
  readonly type: 'http' | 'https';
  readonly target: CheckTarget;
  readonly timeoutMs: number;
  readonly method: string;
  readonly path: string;
  /** Host header; default: the target address (and port when not the scheme's default). */
  readonly host?: string;
  readonly status: readonly StatusRange[];
  /** The body must match this regex (source text, compiled by the checker). */
  readonly bodyRegex?: string;
  /** Hex MD5 of the whole body (keepalived's HTTP_GET digest). */
  readonly bodyDigest?: string;
  /** https only: verify the certificate chain and name. */
  readonly tlsVerify: boolean;
  /** https only: SNI and the name verified; default the host. */
  readonly tlsName?: string;
}

export interface ExecCheckSpec {
  readonly type: 'exec';
  /** argv[0] is the program; no shell. */
  readonly argv: readonly string[];
  readonly timeoutMs: number;
  /** keepalived misc_dynamic: exit 2..255 means healthy with weight = code - 2. */
  readonly dynamic: boolean;
  /** Script security, user and environment (the config's scripts section, and the check's insecure). */
  readonly policy: ScriptPolicy;
}

export interface AgentCheckSpec {
  readonly type: 'agent';
  readonly target: CheckTarget;
  readonly timeoutMs: number;
  /** Sent after connecting (HAProxy agent-send); nothing when empty. */
  readonly send: string;
}

/** keepalived UDP_CHECK: send a datagram on a connected socket; an ICMP port unreachable fails it. */
export interface UdpCheckSpec {
  readonly type: 'udp';
  readonly target: CheckTarget;
  readonly timeoutMs: number;
  /** Sent as is (keepalived: payload); none: 32 random bytes a check, as keepalived. */
  readonly payload?: Uint8Array;
  /** No reply within the timeout fails the check (keepalived: require_reply). */
  readonly requireReply: boolean;
  /** The reply must start with these bytes, where mask bits are 0 (keepalived: require_reply HEX, x nibbles masked). */
  readonly reply?: { readonly data: Uint8Array; readonly mask: Uint8Array };
  readonly minReplyLength: number;
  readonly maxReplyLength: number;
}

/** keepalived PING_CHECK: one ICMP / ICMPv6 echo. */
export interface PingCheckSpec {
  readonly type: 'ping';
  /** port is unused. */
  readonly target: CheckTarget;
  readonly timeoutMs: number;
}

export const DNS_QUERY_TYPES = ['A', 'AAAA', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'PTR', 'SRV'] as const;
export type DnsQueryType = (typeof DNS_QUERY_TYPES)[number];

/** keepalived DNS_CHECK: one query (UDP, TCP when truncated); healthy on NOERROR. */
export interface DnsCheckSpec {
  readonly type: 'dns';
  readonly target: CheckTarget;
  readonly timeoutMs: number;
  readonly queryType: DnsQueryType;
  /** Without the trailing dot; '' is the root. */
  readonly name: string;
  /** Each must be among the answers of queryType (addresses, names or TXT text); none: any NOERROR. */
  readonly expect: readonly string[];
}

/** keepalived SMTP_CHECK: 220 banner, HELO (or EHLO) answered 250, QUIT. */
export interface SmtpCheckSpec {
  readonly type: 'smtp';
  readonly target: CheckTarget;
  readonly timeoutMs: number;
  readonly heloName: string;
  readonly ehlo: boolean;
}

/** keepalived FILE_CHECK / track_file: an integer in a file, times weight, decides up/down/weight. */
export interface FileCheckSpec {
  readonly type: 'file';
  readonly path: string;
  readonly timeoutMs: number;
  /** 0: any non-zero value fails; else value * weight is added to the server's weight. */
  readonly weight: number;
  /** keepalived `weight N reverse`: the value counts negated (weight 0: a zero value fails). */
  readonly reverse: boolean;
}

export type CheckSpec =
  | TcpCheckSpec | HttpCheckSpec | ExecCheckSpec | AgentCheckSpec
  | UdpCheckSpec | PingCheckSpec | DnsCheckSpec | SmtpCheckSpec | FileCheckSpec;

/** What an agent said, HAProxy agent-check style. */
export type AgentAnswer =
  | { readonly kind: 'up' }
  | { readonly kind: 'down' }
  | { readonly kind: 'drain' }
  | { readonly kind: 'maint' }
  /** Share of the configured weight, 0..100 (an answer above 100 is capped at 100). */
  | { readonly kind: 'percent'; readonly percent: number };

/** One run of one check. */
export interface CheckResult {
  /** Healthy? For an agent: it answered something parseable (its answer says the rest). */
  readonly ok: boolean;
  /** Start to verdict, ms. */
  readonly latencyMs: number;
  /** Short and stable, for logs and metrics: "connected", "refused", "timeout", "status 500", ... */
  readonly reason: string;
  /** exec with dynamic: the weight the script asked for. */
  readonly weight?: number;
  /** agent: what it said. */
  readonly agent?: AgentAnswer;
  /** file: added to the server's weight (keepalived track_file: value * weight). */
  readonly weightOffset?: number;
  /**
   * A timeout that was this thread's doing: the run never had timeoutMs of our attention (the
   * loop stalled this long, ms). No verdict: the engine counts it and leaves the health as it was.
   */
  readonly selfLateMs?: number;
}

/** A checker: one run, bounded by spec.timeoutMs and by `signal` (aborted on stop/reload). */
export type Checker<S extends CheckSpec = CheckSpec> = (spec: S, signal: AbortSignal) => Promise<CheckResult>;

/** One check, resolved for one real server. */
export interface CheckConfig {
  readonly spec: CheckSpec;
  readonly intervalMs: number;
  readonly retryDelayMs: number;
  readonly rise: number;
  readonly fall: number;
}

/** Latency-aware weights (check/latency.ts). */
export interface LatencyWeightConfig {
  readonly goodMs: number;
  readonly badMs: number;
  readonly minPercent: number;
  readonly hysteresisPercent: number;
  readonly alpha: number;
}

/** A real server as the engine checks it. */
export interface CheckedServer extends Pick<Destination, 'family' | 'address' | 'port'> {
  /** The configured weight. */
  readonly weight: number;
  /** Keep a failed server at weight 0 instead of removing it. */
  readonly inhibitOnFailure: boolean;
  /** All must pass; none = always healthy. */
  readonly checks: readonly CheckConfig[];
}

/** A virtual server as the engine checks it: its real servers, slow start, quorum, latency weights. */
export type CheckedService = ServiceIdentity & {
  readonly name: string;
  readonly realServers: readonly CheckedServer[];
  /** 0 = a recovered server gets its full weight at once. */
  readonly slowStartMs: number;
  readonly quorum: number;
  readonly hysteresis: number;
  readonly latencyWeight?: LatencyWeightConfig;
};
