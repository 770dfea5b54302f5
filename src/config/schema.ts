// The duet configuration: zod schemas for the YAML file (snake_case, keepalived names) and the
// normalized, typed Config the daemon consumes (camelCase, defaults filled, durations in ms,
// addresses parsed). Validation lives here; load.ts only maps issues to file positions.
//
// Every object is strict: an unknown field is an error, positioned at the key.
// Checks that span fields or sections are superRefine()s that name the offending field's path.

import { z } from 'zod';
import { parseIpv4, type Family } from '../core/addr.js';
import { SCHEDULERS, destKey, ipv4LenFromMask, serviceKey, type Forward, type Protocol, type Scheduler, type TunnelCsum, type TunnelType } from '../ipvs/model.js';
import { SCHEDULER_FLAGS, type SchedulerFlag, type VirtualServerSpec } from '../ipvs/service.js';
import { expecting, intIn, seconds, ms, objectName, argv, unicastIp, compact, familyName } from './blocks.js';
import { show } from './messages.js';
import { BugError } from '../core/errors.js';
import { checksSchema, latencyWeightSchema, normalizeLatencyWeight, resolveCheck, sorryServerSchema, type RawCheck } from './checks-schema.js';
import type { CheckConfig, CheckedService, LatencyWeightConfig } from '../check/types.js';
import { controlSchema, ipvsSysctlSchema, logSchema, lvsTimeoutsSchema, metricsSchema, nodeSchema, type LOG_LEVELS } from './sections-schema.js';
import { normalizeSync, syncDaemonSchema } from './sync-schema.js';
import { normalizeInstance, vrrpSchema } from './vrrp-schema.js';

export { LOG_LEVELS } from './sections-schema.js';
export type { VipConfig } from './vrrp-schema.js';

// ---------------------------------------------------------------------------------------------
// IPVS virtual servers (keepalived: virtual_server ADDR PORT { ... } / virtual_server fwmark N)

/** keepalived lb_kind → IPVS forwarding method. */
const LB_KINDS = { nat: 'masq', dr: 'route', tun: 'tunnel' } as const satisfies Record<string, Forward>;
type LbKind = keyof typeof LB_KINDS;
const lbKind = z.enum(['nat', 'dr', 'tun'], {
  error: (iss) => (iss.input === undefined ? 'missing required field' : undefined),
});

/** ipvsadm's MAX_TIMEOUT: 31 days. */
const MAX_PERSISTENCE_S = 31 * 86400;

const tunnelSchema = z
  .strictObject(
    {
      type: z.enum(['ipip', 'gue', 'gre']).default('ipip'),
      /** GUE destination port; gue only, and required there. */
      port: intIn(1, 65535).optional(),
      csum: z.enum(['nocsum', 'csum', 'remcsum']).default('nocsum'),
    },
    { error: expecting('a mapping {type, port, csum}') },
  )
  .superRefine((t, ctx) => {
    const at = (path: (string | number)[], message: string): void => {
      ctx.addIssue({ code: 'custom', path, message });
    };
    if (t.type === 'gue' && t.port === undefined) at(['port'], 'missing required field (the GUE destination port)');
    if (t.type !== 'gue' && t.port !== undefined) at(['port'], 'only valid with type: gue');
    if (t.type === 'ipip' && t.csum !== 'nocsum') at(['csum'], 'only valid with type: gue or gre (ipip has no checksum option)');
    if (t.type === 'gre' && t.csum === 'remcsum') at(['csum'], 'remcsum is only valid with type: gue');
  });

export interface TunnelConfig {
  type: TunnelType;
  /** 0 unless gue. */
  port: number;
  csum: TunnelCsum;
}

const normalizeTunnel = (t: z.output<typeof tunnelSchema> | undefined): TunnelConfig =>
  ({ type: t?.type ?? 'ipip', port: t?.port ?? 0, csum: t?.csum ?? 'nocsum' });

const realServerSchema = z
  .strictObject(
    {
      address: unicastIp,
      /** Default: the virtual server's port (0 for fwmark: the packet's own port). */
      port: intIn(0, 65535).optional(),
      /** 0 = quiescent. keepalived: weight */
      weight: intIn(0, 65535).default(1),
      /** keepalived: uthreshold; ipvsadm -x. 0 = no limit. */
      upper_threshold: intIn(0, 65535).default(0),
      /** keepalived: lthreshold; ipvsadm -y. */
      lower_threshold: intIn(0, 65535).default(0),
      /** Overrides the virtual server's lb_kind for this server (keepalived: lvs_method). */
      lb_kind: lbKind.optional(),
      tunnel: tunnelSchema.optional(),
      /** Replaces the virtual server's checks for this server ([] = none). */
      checks: checksSchema.optional(),
      /** Keep a failed server at weight 0 instead of removing it (its connections drain). */
      inhibit_on_failure: z.boolean().optional(),
    },
    { error: expecting('a mapping {address, port, weight, ...}') },
  )
  .superRefine((r, ctx) => {
    // The kernel refuses l_threshold > u_threshold (ERANGE), also when upper is 0 (no limit).
    if (r.lower_threshold > r.upper_threshold) {
      ctx.addIssue({
        code: 'custom',
        path: ['lower_threshold'],
        message: `must not exceed upper_threshold (${r.upper_threshold}), got ${r.lower_threshold}`,
      });
    }
  });

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

function sorryServer(s: z.output<typeof sorryServerSchema>, vsKind: LbKind, vsTunnel: z.output<typeof tunnelSchema> | undefined, vsPort: number): RealServerConfig {
  const kind: LbKind = s.lb_kind ?? vsKind;
  return compact({
    address: s.address.address,
    family: s.address.family,
    port: s.port ?? vsPort,
    forward: LB_KINDS[kind],
    weight: s.weight,
    upperThreshold: 0,
    lowerThreshold: 0,
    tunnel: kind === 'tun' ? normalizeTunnel(vsTunnel) : undefined,
    checks: [],
    inhibitOnFailure: false,
  });
}

/** Each real server with everything resolved: port defaulted, lb_kind as the forwarding method. */
export interface RealServerConfig {
  address: string;
  family: Family;
  port: number;
  forward: Extract<Forward, 'masq' | 'route' | 'tunnel'>;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
  /** Present exactly when forward is 'tunnel'. */
  tunnel?: TunnelConfig;
  /** All must pass; none = always healthy. */
  checks: CheckConfig[];
  inhibitOnFailure: boolean;
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

const virtualServersSchema = z
  .array(virtualServerSchema, { error: expecting('a list of virtual servers') })
  .default([])
  .superRefine((list, ctx) => checkVirtualServers(list, ctx as z.core.$RefinementCtx<unknown>));

/** Top-level keys planned but not accepted yet; an unknown-field error says so. */
export const RESERVED_KEYS: readonly string[] = [];

const rawConfigSchema = z.strictObject(
  { node: nodeSchema, log: logSchema, vrrp: vrrpSchema, virtual_servers: virtualServersSchema, lvs_timeouts: lvsTimeoutsSchema, ipvs_sysctl: ipvsSysctlSchema, metrics: metricsSchema, sync_daemon: syncDaemonSchema, control: controlSchema },
  { error: expecting('a mapping with a vrrp section') },
);

type RawConfig = z.output<typeof rawConfigSchema>;

// ---------------------------------------------------------------------------------------------
// Cross-section checks (paths are YAML paths from the root)

function checkCrossRefs(c: RawConfig, ctx: z.core.$RefinementCtx<RawConfig>): void {
  const at = (path: (string | number)[], message: string): void => {
    ctx.addIssue({ code: 'custom', path, message });
  };
  const inst = c.vrrp.instances;
  const ref = (n: number): string => `vrrp.instances[${n}] (${inst[n]?.name ?? '?'})`;

  const byName = new Map<string, number>();
  const byVrid = new Map<string, number>();
  const byVip = new Map<string, number>();
  inst.forEach((i, n) => {
    const prevName = byName.get(i.name);
    if (prevName !== undefined) at(['vrrp', 'instances', n, 'name'], `duplicate instance name '${i.name}' (also ${ref(prevName)})`);
    else byName.set(i.name, n);

    // RFC 5798 §7.3: the VRID is per interface and per address family.
    const family = i.virtual_ipaddress[0]?.family ?? 4;
    const key = `${i.interface}/${i.vrid}/${family}`;
    const prevVrid = byVrid.get(key);
    if (prevVrid !== undefined) {
      at(['vrrp', 'instances', n, 'vrid'], `vrid ${i.vrid} is already used on ${i.interface} for ${familyName(family)} by ${ref(prevVrid)}`);
    } else byVrid.set(key, n);

    i.virtual_ipaddress.forEach((v, k) => {
      const prevVip = byVip.get(v.address);
      if (prevVip !== undefined && prevVip !== n) {
        at(['vrrp', 'instances', n, 'virtual_ipaddress', k], `${v.address} is already a VIP of ${ref(prevVip)}`);
      } else byVip.set(v.address, n);
    });

    i.track_script.forEach((t, k) => {
      if (!Object.hasOwn(c.vrrp.scripts, t.name)) {
        at(['vrrp', 'instances', n, 'track_script', k], `no script '${t.name}' in vrrp.scripts`);
      }
    });
  });

  const sd = c.sync_daemon;
  if (sd?.instance !== undefined && !byName.has(sd.instance)) at(['sync_daemon', 'instance'], `no instance named '${sd.instance}'`);
  if (sd?.sync_group !== undefined && !c.vrrp.sync_groups.some((g) => g.name === sd.sync_group)) at(['sync_daemon', 'sync_group'], `no sync group named '${sd.sync_group}'`);

  const groupNames = new Map<string, number>();
  const memberOf = new Map<string, number>();
  c.vrrp.sync_groups.forEach((g, n) => {
    const prev = groupNames.get(g.name);
    if (prev !== undefined) at(['vrrp', 'sync_groups', n, 'name'], `duplicate sync group name '${g.name}' (also vrrp.sync_groups[${prev}])`);
    else groupNames.set(g.name, n);
    const here = new Set<string>();
    g.instances.forEach((m, k) => {
      const path = ['vrrp', 'sync_groups', n, 'instances', k];
      if (!byName.has(m)) at(path, `no instance named '${m}'`);
      else if (here.has(m)) at(path, `'${m}' is listed twice`);
      else {
        const other = memberOf.get(m);
        if (other !== undefined) {
          at(path, `'${m}' is already in sync group '${c.vrrp.sync_groups[other]?.name ?? '?'}' (an instance may be in one group only)`);
        } else memberOf.set(m, n);
      }
      here.add(m);
    });
  });
}

function normalize(c: RawConfig) {
  const list = Object.entries(c.vrrp.scripts).map(([name, s]) => ({
    name,
    command: s.command,
    intervalMs: ms(s.interval),
    timeoutMs: ms(s.timeout ?? s.interval),
    /** Applied to priority while failing; 0 = the instance goes to FAULT (keepalived semantics). */
    weight: s.weight,
    rise: s.rise,
    fall: s.fall,
  }));
  const weights = new Map(list.map((s) => [s.name, s.weight]));
  /** By name (Object.fromEntries defines own properties, so any name is safe). */
  const scripts: Record<string, (typeof list)[number]> = Object.fromEntries(list.map((s) => [s.name, s]));
  return {
    node: c.node,
    log: c.log,
    vrrp: {
      scripts,
      instances: c.vrrp.instances.map((i) => normalizeInstance(i, weights)),
      syncGroups: c.vrrp.sync_groups.map((g) => ({ name: g.name, instances: g.instances, notify: g.notify })),
    },
    // The cores declare what they take of a virtual server: the config's output must stay that.
    virtualServers: c.virtual_servers satisfies readonly (VirtualServerSpec & CheckedService)[],
    metrics: c.metrics,
    control: c.control === undefined ? undefined : compact({ statusGroup: c.control.status_group, statusSocket: c.control.status_socket }),
    syncDaemon: c.sync_daemon === undefined ? undefined : normalizeSync(c.sync_daemon),
    /** sysctl name under net.ipv4.vs → the value to write ("0"/"1" for booleans). */
    ipvsSysctl: Object.fromEntries(
      Object.entries(c.ipvs_sysctl ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => [k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v)]),
    ) as Record<string, string>,
    lvsTimeouts: c.lvs_timeouts ? { tcp: c.lvs_timeouts.tcp, tcpFin: c.lvs_timeouts.tcpfin, udp: c.lvs_timeouts.udp } : undefined,
  };
}

/** YAML document (as plain JS) → normalized Config. */
export const configSchema = rawConfigSchema.superRefine(checkCrossRefs).transform(normalize);

export type Config = z.output<typeof configSchema>;
export type InstanceConfig = Config['vrrp']['instances'][number];
export type TrackScriptConfig = Config['vrrp']['scripts'][string];
export type SyncGroupConfig = Config['vrrp']['syncGroups'][number];
export type NotifyConfig = InstanceConfig['notify'];
export type LogLevel = (typeof LOG_LEVELS)[number];
