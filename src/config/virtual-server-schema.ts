// The virtual_servers section: IPVS virtual servers (keepalived: virtual_server ADDR PORT { ... }
// / virtual_server fwmark N) with their real servers (real-server-schema.ts) and checks
// (checks-schema.ts), normalized into what the IPVS and check cores take.

import { z } from 'zod';
import { parseIpv4, type Family } from '../core/addr.js';
import { BugError } from '../core/errors.js';
import { SCHEDULERS, destKey, ipv4LenFromMask, serviceKey, type Protocol, type Scheduler } from '../ipvs/model.js';
import { SCHEDULER_FLAGS, type SchedulerFlag } from '../ipvs/service.js';
import type { CheckConfig, LatencyWeightConfig } from '../check/types.js';
import { argv, compact, expecting, familyName, intIn, ms, objectName, seconds, unicastIp } from './blocks.js';
import { checksSchema, latencyWeightSchema, normalizeLatencyWeight, resolveCheck, sorryServerSchema, type RawCheck } from './checks-schema.js';
import { show } from './messages.js';
import { LB_KINDS, lbKind, normalizeTunnel, realServerSchema, sorryServer, tunnelSchema, type LbKind, type RealServerConfig } from './real-server-schema.js';

/** ipvsadm's MAX_TIMEOUT: 31 days. */
const MAX_PERSISTENCE_S = 31 * 86400;

const virtualServerSchema = z
  .strictObject(
    {
      /** Default: the service key, "tcp:192.0.2.100:80", "tcp:[2001:db8::1]:80", "fwmark:10". */
      name: objectName.optional(),
      address: unicastIp.optional(),
      port: intIn(0, 65535).optional(),
      fwmark: intIn(1, 4294967295).optional(),
      /** Default tcp; address services only. keepalived: protocol */
      protocol: z.enum(['tcp', 'udp', 'sctp']).optional(),
      /** fwmark services only; default: the first real server's family, else 4. */
      family: z.literal([4, 6]).optional(),
      /** keepalived: lb_algo; ipvsadm -s. Default wlc, as ipvsadm. */
      scheduler: z.enum(SCHEDULERS).default('wlc'),
      scheduler_flags: z.array(z.enum(SCHEDULER_FLAGS), { error: expecting('a list of flags') }).default([]),
      /** Required: ipvsadm defaults to dr, keepalived to nat; duet makes you say which. */
      lb_kind: lbKind,
      /** Seconds; 0 = no persistence. keepalived: persistence_timeout; ipvsadm -p. */
      persistence_timeout: intIn(0, MAX_PERSISTENCE_S).default(0),
      /** IPv4 netmask '255.255.255.0' or prefix length 0..32; IPv6 prefix length 1..128. */
      persistence_granularity: z
        .union([z.number(), z.string()], {
          error: (iss) => `expected a netmask such as '255.255.255.0' or a prefix length, got ${show(iss.input)}`,
        })
        .optional(),
      /** One-packet scheduling (UDP; ipvsadm -o). keepalived: ops */
      one_packet: z.boolean().default(false),
      /** Tunnel encapsulation for lb_kind tun; real servers inherit it. */
      tunnel: tunnelSchema.optional(),
      real_servers: z.array(realServerSchema, { error: expecting('a list of real servers') }).default([]),
      /** Checks of every real server (a real server's own `checks` replaces them). */
      checks: checksSchema.default([]),
      /** Default for the real servers: keep a failed server at weight 0 instead of removing it. */
      inhibit_on_failure: z.boolean().default(false),
      /** Seconds over which a recovered server's weight ramps up to its full weight. */
      slow_start: seconds(0, 3600).default(0),
      /** Healthy weight below which the service switches to its sorry server. keepalived: quorum */
      quorum: intIn(1, 4294967295).default(1),
      /** Lost below quorum - hysteresis, regained at quorum + hysteresis. */
      hysteresis: intIn(0, 4294967295).default(0),
      quorum_up: argv.optional(),
      quorum_down: argv.optional(),
      sorry_server: sorryServerSchema.optional(),
      latency_weight: latencyWeightSchema.optional(),
    },
    { error: expecting('a mapping') },
  )
  .superRefine((v, ctx) => {
    const at = (path: (string | number)[], message: string): void => {
      ctx.addIssue({ code: 'custom', path, message });
    };

    // Identity: address and port, or fwmark.
    const byAddr = v.address !== undefined;
    if (!byAddr && v.fwmark === undefined) at([], 'needs address and port, or fwmark');
    if (byAddr && v.fwmark !== undefined) at(['fwmark'], 'not valid with address (a virtual server is address and port, or fwmark)');
    if (byAddr && v.port === undefined) at(['port'], 'missing required field');
    if (!byAddr && v.fwmark !== undefined) {
      if (v.port !== undefined) at(['port'], 'only valid with address (a fwmark service matches any port)');
      if (v.protocol !== undefined) at(['protocol'], 'only valid with address (a fwmark service matches any protocol)');
    }
    if (byAddr && v.family !== undefined) at(['family'], "only valid with fwmark (an address service takes its address's family)");
    if (v.port === 0 && v.persistence_timeout === 0) at(['port'], '0 (all ports) needs persistence_timeout');

    v.scheduler_flags.forEach((f, n) => {
      const sched = f.slice(0, 2);
      if (sched !== v.scheduler) at(['scheduler_flags', n], `'${f}' needs scheduler: ${sched}, got ${v.scheduler}`);
      if (v.scheduler_flags.indexOf(f) !== n) at(['scheduler_flags', n], `'${f}' is listed twice`);
    });
    if (v.one_packet && byAddr && (v.protocol ?? 'tcp') !== 'udp') {
      at(['one_packet'], 'only valid with protocol: udp (or a fwmark service)');
    }

    const family = serviceFamily(v);
    if (v.persistence_granularity !== undefined) {
      if (v.persistence_timeout === 0) at(['persistence_granularity'], 'only valid with persistence_timeout');
      else {
        const r = netmaskLen(family, v.persistence_granularity);
        if (typeof r === 'string') at(['persistence_granularity'], r);
      }
    }
    if (v.tunnel !== undefined && v.lb_kind !== 'tun') at(['tunnel'], 'only valid with lb_kind: tun');

    if (v.hysteresis >= v.quorum) at(['hysteresis'], `must be less than quorum (${v.quorum}), got ${v.hysteresis}: quorum could never be lost`);
    if (v.sorry_server !== undefined) {
      const ss = v.sorry_server;
      if (ss.address.family !== family) at(['sorry_server', 'address'], `is ${familyName(ss.address.family)} but the virtual server is ${familyName(family)}`);
      const kind = ss.lb_kind ?? v.lb_kind;
      if (byAddr && kind !== 'nat' && ss.port !== undefined && ss.port !== v.port) {
        at(['sorry_server', 'port'], `must be the virtual server's port (${v.port ?? '?'}) or omitted with lb_kind ${kind} (only nat translates ports)`);
      }
    }
    const reportedVsChecks = new Set<number>();
    const seen = new Map<string, number>();
    v.real_servers.forEach((r, n) => {
      const path = (...p: string[]): (string | number)[] => ['real_servers', n, ...p];
      if (r.address.family !== family) {
        at(path('address'), `is ${familyName(r.address.family)} but the virtual server is ${familyName(family)}`);
      }
      const kind = r.lb_kind ?? v.lb_kind;
      if (r.tunnel !== undefined && kind !== 'tun') at(path('tunnel'), 'only valid with lb_kind: tun');
      if (byAddr && kind !== 'nat' && r.port !== undefined && r.port !== v.port) {
        at(path('port'), `must be the virtual server's port (${v.port ?? '?'}) or omitted with lb_kind ${kind} (only nat translates ports)`);
      }
      const key = destKey({ family: r.address.family, address: r.address.address, port: r.port ?? v.port ?? 0 });
      checkResolvable(v, r, n, at, reportedVsChecks);
      const prev = seen.get(key);
      if (prev !== undefined) at(['real_servers', n], `duplicate of real_servers[${prev}] (${key})`);
      else seen.set(key, n);
    });
  })
  .transform((v): VirtualServerConfig => {
    const family = serviceFamily(v);
    const nm = v.persistence_granularity === undefined ? undefined : netmaskLen(family, v.persistence_granularity);
    const common = {
      family,
      scheduler: v.scheduler,
      schedulerFlags: v.scheduler_flags,
      persistenceTimeoutS: v.persistence_timeout,
      persistenceNetmaskLen: typeof nm === 'number' ? nm : family === 4 ? 32 : 128,
      onePacket: v.one_packet,
      realServers: v.real_servers.map((r): RealServerConfig => {
        const kind: LbKind = r.lb_kind ?? v.lb_kind;
        return compact({
          address: r.address.address,
          family: r.address.family,
          port: r.port ?? v.port ?? 0,
          forward: LB_KINDS[kind],
          weight: r.weight,
          upperThreshold: r.upper_threshold,
          lowerThreshold: r.lower_threshold,
          tunnel: kind === 'tun' ? normalizeTunnel(r.tunnel ?? v.tunnel) : undefined,
          checks: resolvedChecks(r.checks ?? v.checks, r.address, r.port ?? v.port ?? 0),
          inhibitOnFailure: r.inhibit_on_failure ?? v.inhibit_on_failure,
        });
      }),
      slowStartMs: ms(v.slow_start),
      quorum: v.quorum,
      hysteresis: v.hysteresis,
      ...compact({
        quorumUp: v.quorum_up,
        quorumDown: v.quorum_down,
        sorryServer: v.sorry_server === undefined ? undefined : sorryServer(v.sorry_server, v.lb_kind, v.tunnel, v.port ?? 0),
        latencyWeight: v.latency_weight === undefined ? undefined : normalizeLatencyWeight(v.latency_weight),
      }),
    };
    if (v.address !== undefined) {
      const id = { kind: 'addr', family, protocol: v.protocol ?? 'tcp', address: v.address.address, port: v.port ?? 0 } as const;
      return { name: v.name ?? serviceKey(id), ...id, ...common };
    }
    const id = { kind: 'fwmark', family, fwmark: v.fwmark ?? 0 } as const;
    return { name: v.name ?? serviceKey(id), ...id, ...common };
  });

type RawVirtualServer = z.output<typeof virtualServerSchema.in>;

function serviceFamily(v: Pick<RawVirtualServer, 'address' | 'family' | 'real_servers'>): Family {
  return v.address?.family ?? v.family ?? v.real_servers[0]?.address.family ?? 4;
}

/** persistence_granularity → prefix length, or why not. */
function netmaskLen(family: Family, g: number | string): number | string {
  if (family === 6) {
    return typeof g === 'number' && Number.isInteger(g) && g >= 1 && g <= 128
      ? g
      : `must be a prefix length 1..128 for IPv6, got ${show(g)}`;
  }
  if (typeof g === 'number') {
    return Number.isInteger(g) && g >= 0 && g <= 32 ? g : `must be a netmask or a prefix length 0..32, got ${show(g)}`;
  }
  const b = parseIpv4(g);
  const len = b && ipv4LenFromMask(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0);
  return len ?? `must be a netmask with contiguous ones such as '255.255.255.0' or a prefix length 0..32, got ${show(g)}`;
}

type RawRealServer = z.output<typeof realServerSchema>;
type At = (path: (string | number)[], message: string) => void;

/** Report checks that cannot be resolved for a real server (a port-less server without connect_port). */
function checkResolvable(v: { checks: RawCheck[]; port?: number | undefined }, r: RawRealServer, n: number, at: At, reportedVsChecks: Set<number>): void {
  const own = r.checks !== undefined;
  (r.checks ?? v.checks).forEach((c, k) => {
    const res = resolveCheck(c, { address: r.address.address, family: r.address.family, port: r.port ?? v.port ?? 0 });
    if (res.ok) return;
    if (own) at(['real_servers', n, 'checks', k, ...res.path], res.message);
    else if (!reportedVsChecks.has(k)) {
      reportedVsChecks.add(k);
      at(['checks', k, ...res.path], res.message);
    }
  });
}

function resolvedChecks(list: RawCheck[], addr: { address: string; family: Family }, port: number): CheckConfig[] {
  return list.map((c) => {
    const r = resolveCheck(c, { address: addr.address, family: addr.family, port });
    if (!r.ok) throw new BugError(`unresolvable check passed validation: ${r.message}`);
    return r.value;
  });
}

interface VirtualServerCommon {
  /** Given, or the service key. Unique. */
  name: string;
  family: Family;
  scheduler: Scheduler;
  schedulerFlags: SchedulerFlag[];
  /** 0 = no persistence. */
  persistenceTimeoutS: number;
  /** Persistence granularity as a prefix length (IPv4 0..32, IPv6 1..128); 32/128 when unset. */
  persistenceNetmaskLen: number;
  onePacket: boolean;
  realServers: RealServerConfig[];
  /** 0 = a recovered server gets its full weight at once. */
  slowStartMs: number;
  quorum: number;
  hysteresis: number;
  quorumUp?: string[];
  quorumDown?: string[];
  /** A destination with no checks; in the table only while quorum is lost. */
  sorryServer?: RealServerConfig;
  latencyWeight?: LatencyWeightConfig;
}

export type VirtualServerConfig = VirtualServerCommon &
  ({ kind: 'addr'; protocol: Protocol; address: string; port: number } | { kind: 'fwmark'; fwmark: number });

/** Across virtual servers: one per identity, unique names. Runs on normalized entries. */
function checkVirtualServers(list: readonly unknown[], ctx: z.core.$RefinementCtx<unknown>): void {
  const byKey = new Map<string, number>();
  const byName = new Map<string, number>();
  list.forEach((x, n) => {
    // An entry with issues of its own stays un-normalized (snake_case, no `kind`): skip it.
    if (x === null || typeof x !== 'object' || !('kind' in x)) return;
    const v = x as VirtualServerConfig;
    const key = serviceKey(v);
    const prevKey = byKey.get(key);
    if (prevKey !== undefined) {
      ctx.addIssue({ code: 'custom', path: [n, v.kind === 'fwmark' ? 'fwmark' : 'address'], message: `duplicate of virtual_servers[${prevKey}] (${key})` });
      return;
    }
    byKey.set(key, n);
    const prevName = byName.get(v.name);
    if (prevName !== undefined) {
      ctx.addIssue({ code: 'custom', path: [n, 'name'], message: `duplicate virtual server name '${v.name}' (also virtual_servers[${prevName}])` });
    } else byName.set(v.name, n);
  });
}

export const virtualServersSchema = z
  .array(virtualServerSchema, { error: expecting('a list of virtual servers') })
  .default([])
  .superRefine((list, ctx) => checkVirtualServers(list, ctx as z.core.$RefinementCtx<unknown>));
