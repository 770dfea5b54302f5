// The real Linux edge for the daemon: rtnetlink for addresses and links, raw or UDP sockets
// for VRRP, a packet socket for gratuitous ARP / unsolicited NA.
import { workerChecks } from '../check/host.js';
import type { AdmissionLimits } from '../check/admission.js';
import type { RtOutcome, ThreadRealtime } from '../core/realtime.js';
import type { Logger } from '../core/log.js';
import { Rtnl } from '../netlink/rtnl.js';
import { createRawTransport } from '../vrrp/raw-transport.js';
import { createUdpTransport } from '../vrrp/udp-transport.js';
import { createRaw6Transport } from '../vrrp/raw6-transport.js';
import { createArpWatch, createGarpSender, type GarpSender } from '../vrrp/garp.js';
import { IoError } from '../core/errors.js';
import { IpvsClient } from '../ipvs/genl-client.js';
import { runChild, killChildGroups } from './child.js';
import { createPinger, type Pinger } from './icmp-ping.js';
import { readFileSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BgpOperatorState, Platform } from './platform.js';
import type { Override } from '../control/views.js';
import { parseMarker } from './restart.js';
import { readStateFile, stateDirProblem, writeStateFile } from './state-files.js';

/** The names come from the config schema's fixed list, never from input paths. */
const ipvsSysctlPath = (name: string): string => `/proc/sys/net/ipv4/vs/${name}`;

/** net.ipv4.conf.IFNAME.promote_secondaries = 1 (read each time: a link made again starts at 0). */
async function promoteSecondaries(ifname: string): Promise<void> {
  if (!/^[^/.][^/]*$/.test(ifname)) return;
  const path = `/proc/sys/net/ipv4/conf/${ifname}/promote_secondaries`;
  try {
    if ((await readFile(path, 'utf8')).trim() !== '1') await writeFile(path, '1');
  } catch { /* the link is gone or has no IPv4: the delete says what matters */ }
}

/**
 * checkRealtime: the check worker thread's real-time policy (config realtime.check_priority);
 * checkAdmission: its admission bounds (config check_worker).
 */
export async function createLinuxPlatform(log: Logger, o: { stateDir: string; checkRealtime?: ThreadRealtime; checkAdmission?: Partial<AdmissionLimits> }): Promise<Platform & { close(): void }> {
  const rtnl = new Rtnl();
  let garp: GarpSender | undefined;
  let ipvs: IpvsClient | undefined;
  let pinger: Pinger | undefined;
  const managedFile = join(o.stateDir, 'ipvs-managed.json');
  const operatorFile = join(o.stateDir, 'operator.json');
  const restartFile = join(o.stateDir, 'restart.json');
  const bgpFile = join(o.stateDir, 'bgp-operator.json');
  // See state-files.ts: an unsafe directory is not used; a file that cannot be trusted or
  // written is reported and costs only itself.
  const dirProblem = stateDirProblem(o.stateDir);
  if (dirProblem) log.error({ dir: o.stateDir, problem: dirProblem }, 'state directory unsafe: state files are neither read nor written');
  const writeAtomic = (file: string, text: string): void => {
    if (dirProblem) return;
    try { writeStateFile(file, text); } catch (e) { log.error({ file, err: (e as Error).message }, 'state file not saved'); }
  };
  const readTrusted = (file: string): string | undefined => {
    if (dirProblem) return undefined;
    try { return readStateFile(file); } catch (e) { log.error({ file, err: (e as Error).message }, 'state file not trusted; ignored'); return undefined; }
  };
  const parsed = <T>(file: string, check: (v: unknown) => v is T): T | undefined => {
    const text = readTrusted(file);
    if (text === undefined) return undefined;
    let v: unknown;
    try { v = JSON.parse(text); } catch { v = undefined; }
    if (check(v)) return v;
    log.error({ file }, 'state file malformed; ignored');
    return undefined;
  };
  const garpSender = (): GarpSender => (garp ??= createGarpSender());
  return {
    async openTransport(k) {
      if (k.kind === 'udp') {
        const src = k.srcAddress ?? (await primaryAddress(rtnl, k.ifname, k.family));
        return createUdpTransport({ ifname: k.ifname, srcAddress: src, port: k.udpPort, multicast: !k.unicast });
      }
      // The announcement socket is opened with the first VRRP socket, not on the first GARP of a
      // takeover (its creation sat between the VIP add and the first GARP). A failure here is
      // reported when a GARP is sent.
      try { garpSender(); } catch { /* reported on use */ }
      if (k.family === 6) return createRaw6Transport({ ifname: k.ifname, multicast: !k.unicast, ...(k.srcAddress ? { srcAddress: k.srcAddress } : {}) });
      return createRawTransport({ ifname: k.ifname, family: 4, multicast: !k.unicast, ...(k.srcAddress ? { srcAddress: k.srcAddress } : {}) });
    },
    addAddress: (ifname, address, prefixLen, label) => rtnl.addAddress(ifname, address, prefixLen, label ? { label } : {}),
    delAddress: async (ifname, address, prefixLen) => {
      // Deleting an interface's primary IPv4 address of a subnet deletes its secondaries too
      // (other instances' VIPs in the same subnet) unless promote_secondaries is on: turn it
      // on first, as keepalived does for the interfaces it adds VIPs to.
      if (!address.includes(':')) await promoteSecondaries(ifname);
      await rtnl.delAddress(ifname, address, prefixLen);
    },
    addRoute: (table, ifname, address, prefixLen) => rtnl.addRoute(table, ifname, address, prefixLen),
    delRoute: (table, address, prefixLen) => rtnl.delRoute(table, address, prefixLen),
    async link(ifname) {
      const l = await rtnl.findLink(ifname);
      return l && { index: l.index, up: l.up && l.running };
    },
    watchLinks(cb) {
      return rtnl.watchLinks((e) => cb(e.name, e.type === 'new' ? { index: e.index, up: e.up && e.running } : undefined),
        (e) => log.error({ err: e.message }, 'link watch failed'));
    },
    macAddress: (ifname) => readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim(),
    async runHook(argv, vars, timeoutMs, policy) {
      const r = await runChild(argv, { timeoutMs, vars, policy });
      if (r.code === 0 && !r.timedOut) return;
      const how = r.timedOut ? `timed out after ${timeoutMs} ms (its process group was killed)` : r.code !== null ? `exit ${r.code}` : `killed by ${r.signal}`;
      throw new IoError(`${argv[0]}: ${how}${r.output ? `; output: ${r.output.trim().slice(0, 500)}` : ''}`);
    },
    runScript: (argv, timeoutMs, policy) => runChild(argv, { timeoutMs, policy }),
    ping: (address, timeoutMs) => (pinger ??= createPinger()).ping(address, timeoutMs),
    sendGarp: (ifname, address, mac) => garpSender().sendGarp(ifname, address, mac),
    sendUnsolicitedNa: (ifname, address, mac) => garpSender().sendUnsolicitedNa(ifname, address, mac),
    openArpWatch: (ifname) => createArpWatch(ifname),
    async openIpvs() { return (ipvs ??= await IpvsClient.open()); },
    async readIpvsSysctl(name) {
      try {
        return (await readFile(ipvsSysctlPath(name), 'utf8')).trim();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    async writeIpvsSysctl(name, value) {
      await writeFile(ipvsSysctlPath(name), `${value}\n`);
    },
    openChecks: (onEvent, onError) => workerChecks({
      onEvent, onError,
      ...(o.checkAdmission ? { admission: o.checkAdmission } : {}),
      onLate: (late, l) => {
        if (late) log.warn({ mod: 'check', behindMs: Math.round(l.behindMs), lateRuns: l.lateRuns, discounted: l.discounted, queued: l.queued }, 'checks running late: the check worker is past capacity (no check is failed for it)');
        else log.info({ mod: 'check', lateRuns: l.lateRuns, discounted: l.discounted }, 'checks back on schedule');
      },
      ...(o.checkRealtime ? {
        realtime: o.checkRealtime,
        onRealtime: (r: RtOutcome) => {
          if (r.ok) log.info({ thread: 'check', tid: r.tid, policy: r.detail }, 'real-time scheduling on');
          else log.warn({ thread: 'check', err: r.error }, 'real-time scheduling refused; running without');
        },
      } : {}),
    }),
    loadManaged() {
      const v = parsed(managedFile, isManagedList);
      return v && new Set(v);
    },
    saveManaged(keys) { writeAtomic(managedFile, JSON.stringify([...keys].sort())); },
    loadBgpOperator: () => parsed(bgpFile, isBgpOperator),
    saveBgpOperator(v) { writeAtomic(bgpFile, JSON.stringify(v)); },
    loadOverrides: () => parsed(operatorFile, isOverrides),
    saveOverrides(v) { writeAtomic(operatorFile, JSON.stringify(v)); },
    takeRestartMarker() {
      const text = readTrusted(restartFile);
      if (text === undefined) return undefined;
      // Used once: a later crash and start must not resume from an old hand-off.
      rmSync(restartFile, { force: true });
      const m = parseMarker(text);
      if (!m) log.warn({ file: restartFile }, 'restart marker unreadable; starting as a fresh node');
      return m;
    },
    saveRestartMarker(m) { writeAtomic(restartFile, JSON.stringify(m)); },
    wallNow: () => Date.now(),
    close() { garp?.close(); ipvs?.close(); pinger?.close(); rtnl.close(); killChildGroups(); },
  };
}

/** Service keys as serviceKey() writes them: "tcp:192.0.2.100:80", "udp:[2001:db8::1]:53", "fwmark:7". */
function isManagedList(v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= 100_000 && v.every((k) => typeof k === 'string' && /^((tcp|udp|sctp):[0-9a-fA-F.:[\]]+:\d+|fwmark6?:\d+)$/.test(k));
}

function isBgpOperator(v: unknown): v is BgpOperatorState {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as BgpOperatorState;
  return typeof o.maintenance === 'boolean' && Array.isArray(o.withdrawn) && o.withdrawn.length <= 10_000 && o.withdrawn.every((a) => typeof a === 'string' && /^[0-9a-fA-F.:]{2,45}$/.test(a));
}

function isOverrides(v: unknown): v is Record<string, Override> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.entries(v).every(([name, o]) => /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$/.test(name) && typeof o === 'object' && o !== null
    && ['failover', 'takeover', 'maintenance'].includes((o as Override).mode) && typeof (o as Override).sticky === 'boolean' && typeof (o as Override).since === 'number');
}

async function primaryAddress(rtnl: Rtnl, ifname: string, family: 4 | 6): Promise<string> {
  const a = (await rtnl.listAddresses(ifname)).find((x) => x.family === family && !x.secondary);
  if (!a) throw new IoError(`${ifname} has no IPv${family} address to send VRRP from`);
  return a.address;
}
