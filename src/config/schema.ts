// The duet configuration: zod schemas for the YAML file (snake_case, keepalived names) and the
// normalized, typed Config the daemon consumes (camelCase, defaults filled, durations in ms,
// addresses parsed). Validation lives here and beside it; load.ts only maps issues to file
// positions. This file holds the root: the sections' schemas (vrrp-schema.ts,
// virtual-server-schema.ts with real-server-schema.ts and checks-schema.ts, sync-schema.ts,
// sections-schema.ts for the small ones, field blocks in blocks.ts) joined, the checks across
// sections, the normalization of the whole, and the Config types.
//
// Every object is strict: an unknown field is an error, positioned at the key.
// Checks that span fields or sections are superRefine()s that name the offending field's path.

import { z } from 'zod';
import type { VirtualServerSpec } from '../ipvs/service.js';
import type { CheckedService } from '../check/types.js';
import { compact, expecting, familyName, ms } from './blocks.js';
import { checkWorkerSchema, controlSchema, hooksSchema, ipvsSysctlSchema, logSchema, lvsTimeoutsSchema, metricsSchema, nodeSchema, realtimeSchema, scriptsSchema, type LOG_LEVELS } from './sections-schema.js';
import type { ScriptPolicy } from '../core/script-security.js';
import type { RealtimeConfig, ThreadRealtime } from '../core/realtime.js';
import { normalizeSync, syncDaemonSchema } from './sync-schema.js';
import { virtualServersSchema } from './virtual-server-schema.js';
import { normalizeInstance, vrrpSchema } from './vrrp-schema.js';
import { bgpSchema, normalizeBgp } from './bgp-schema.js';

export { LOG_LEVELS } from './sections-schema.js';
export type { RealServerConfig, TunnelConfig } from './real-server-schema.js';
export type { VirtualServerConfig } from './virtual-server-schema.js';
export type { VipConfig } from './vrrp-schema.js';

// ---------------------------------------------------------------------------------------------
// Root

/** Top-level keys planned but not accepted yet; an unknown-field error says so. */
export const RESERVED_KEYS: readonly string[] = [];

const rawConfigSchema = z.strictObject(
  { node: nodeSchema, log: logSchema, vrrp: vrrpSchema, virtual_servers: virtualServersSchema, lvs_timeouts: lvsTimeoutsSchema, ipvs_sysctl: ipvsSysctlSchema, metrics: metricsSchema, sync_daemon: syncDaemonSchema, control: controlSchema, hooks: hooksSchema, scripts: scriptsSchema, bgp: bgpSchema, realtime: realtimeSchema, check_worker: checkWorkerSchema },
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

  // A node may run VRRP, BGP announcements, IPVS with checks only (keepalived's checker-only
  // director, its `--check`), or any mix; it must run something.
  if (inst.length === 0 && !c.bgp && c.virtual_servers.length === 0) at(['vrrp', 'instances'], 'must not be empty when nothing else runs (no virtual_servers, no bgp section)');
  c.bgp?.vips.forEach((v, n) => {
    const prevVip = byVip.get(v.address.address);
    if (prevVip !== undefined) at(['bgp', 'vips', n], `${v.address.address} is already a VIP of ${ref(prevVip)} (a VIP is in VRRP or in BGP mode, not both)`);
    if (c.bgp!.vips.findIndex((w) => w.address.address === v.address.address) !== n) at(['bgp', 'vips', n], `${v.address.address} is listed twice`);
    (v.services ?? []).forEach((name, k) => {
      if (!c.virtual_servers.some((vs) => vs.name === name)) at(['bgp', 'vips', n, 'services', k], `no virtual server named '${name}'`);
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

/** Exec checks take the global scripts policy; a check's own insecure (policy.secure false) stays. */
function withExecPolicy(list: RawConfig['virtual_servers'], global: ScriptPolicy): RawConfig['virtual_servers'] {
  if (!list.some((v) => v.realServers.some((r) => r.checks.some((ch) => ch.spec.type === 'exec')))) return list;
  return list.map((v) => ({
    ...v,
    realServers: v.realServers.map((r) => ({
      ...r,
      checks: r.checks.map((ch) => (ch.spec.type !== 'exec' ? ch : { ...ch, spec: { ...ch.spec, policy: { ...global, secure: global.secure && ch.spec.policy.secure } } })),
    })),
  }));
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
    /** Script security off for this one (scripts.security). */
    insecure: s.insecure,
  }));
  const scriptsPolicy: ScriptPolicy = compact({ secure: c.scripts.security, user: c.scripts.user, env: c.scripts.env });
  const weights = new Map(list.map((s) => [s.name, s.weight]));
  /** By name (Object.fromEntries defines own properties, so any name is safe). */
  const scripts: Record<string, (typeof list)[number]> = Object.fromEntries(list.map((s) => [s.name, s]));
  return {
    node: compact({ name: c.node.name, stateDir: c.node.state_dir }),
    log: c.log,
    vrrp: {
      scripts,
      instances: c.vrrp.instances.map((i) => normalizeInstance(i, weights)),
      syncGroups: c.vrrp.sync_groups.map((g) => ({ name: g.name, instances: g.instances, notify: g.notify })),
    },
    // The cores declare what they take of a virtual server: the config's output must stay that.
    virtualServers: withExecPolicy(c.virtual_servers, scriptsPolicy) satisfies readonly (VirtualServerSpec & CheckedService)[],
    metrics: c.metrics && { listen: c.metrics.listen, path: c.metrics.path, ipvsCacheMs: c.metrics.ipvs_cache_ms },
    hooks: { timeoutMs: ms(c.hooks.timeout) },
    realtime: normalizeRealtime(c.realtime),
    /** Admission bounds of the check worker (check/admission.ts AdmissionLimits); unset: its defaults. */
    checkWorker: compact({ maxInFlight: c.check_worker.max_in_flight, perTurn: c.check_worker.starts_per_turn }),
    /** How programs are run: script security, script user, environment passed through. */
    scripts: scriptsPolicy,
    control: c.control === undefined ? undefined : compact({ statusGroup: c.control.status_group, statusSocket: c.control.status_socket, idleTimeoutMs: ms(c.control.idle_timeout), maxConnections: c.control.max_connections }),
    syncDaemon: c.sync_daemon === undefined ? undefined : normalizeSync(c.sync_daemon),
    /** sysctl name under net.ipv4.vs → the value to write ("0"/"1" for booleans). */
    ipvsSysctl: Object.fromEntries(
      Object.entries(c.ipvs_sysctl ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => [k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v)]),
    ) as Record<string, string>,
    /** VIPs announced by BGP (active-active); absent without a bgp section. */
    ...(c.bgp ? { bgp: normalizeBgp(c.bgp, (address) => c.virtual_servers.filter((v) => v.kind === 'addr' && v.address === address).map((v) => v.name)) } : {}),
    lvsTimeouts: c.lvs_timeouts ? { tcp: c.lvs_timeouts.tcp, tcpFin: c.lvs_timeouts.tcpfin, udp: c.lvs_timeouts.udp } : undefined,
  };
}

function normalizeRealtime(r: RawConfig['realtime']): RealtimeConfig {
  const at = (priority: number | undefined): ThreadRealtime | undefined => (priority === undefined ? undefined : { policy: r.policy, priority });
  return compact({ vrrp: at(r.vrrp_priority), check: at(r.check_priority), lockMemory: r.lock_memory, ...(r.advert_thread ? { advertThread: { leaseMs: r.advert_lease_ms } } : {}) });
}

/** YAML document (as plain JS) → normalized Config. */
export const configSchema = rawConfigSchema.superRefine(checkCrossRefs).transform(normalize);

export type Config = z.output<typeof configSchema>;
export type InstanceConfig = Config['vrrp']['instances'][number];
export type TrackScriptConfig = Config['vrrp']['scripts'][string];
export type SyncGroupConfig = Config['vrrp']['syncGroups'][number];
export type NotifyConfig = InstanceConfig['notify'];
export type { BgpConfig } from './bgp-schema.js';
export type LogLevel = (typeof LOG_LEVELS)[number];
