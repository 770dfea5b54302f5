// What an LVS real server needs for DR or TUN, as the LVS howtos set it up by hand, planned as a
// pure function: the host's current state in, the list of steps (and the state to save) out.
//
// DR: the VIP as a host address on `lo`, so the server accepts packets addressed to it, with
//     arp_ignore=1 (answer ARP only for addresses on the receiving interface) and arp_announce=2
//     (never use the VIP as the ARP source), so only the director answers ARP for the VIP.
// TUN: the VIP on the ipip module's fallback device tunl0, which decapsulates what the director
//     sends; the same ARP settings, and rp_filter=0 on tunl0 and `all`, because the inner packet
//     (from the client) arrives on tunl0, which has no route back to the client.
//
// The kernel uses max(all, interface) for arp_ignore, arp_announce and rp_filter, so `all` is set
// for arp_*, plus the interface named by --dev (or lo / tunl0) as the howtos do; rp_filter needs
// both all and tunl0 at 0.
//
// Setup records what it changed (the sysctls' previous values, the addresses it added, links it
// brought up) so teardown puts back exactly that and never removes what it did not add.

import type { Family } from '../core/addr.js';

export type { Family };
export type Mode = 'dr' | 'tun';

export interface Vip {
  address: string;
  family: Family;
}

export interface RealServerOptions {
  mode: Mode;
  /** Setup: the VIPs to add. Teardown: the VIPs to remove; empty = every one setup added. */
  vips: Vip[];
  /** The interface facing the director; its arp_* sysctls are set too. */
  dev?: string;
}

export interface SavedSysctl {
  /** The value before setup changed it: what teardown restores. */
  previous: string;
  /** The value setup wrote: if it is no longer there, someone changed it since; teardown leaves it. */
  set: string;
}

/** The state file: what setup changed. */
export interface SavedState {
  version: 1;
  addresses: { dev: string; address: string; prefixLen: number }[];
  /** By key, "net/ipv4/conf/all/arp_ignore". */
  sysctls: Record<string, SavedSysctl>;
  /** Links that were down and setup brought up. */
  linksUp: string[];
}

export interface HostAddress {
  ifname: string;
  address: string;
  prefixLen: number;
  label: string | undefined;
}

/** The host as the applier read it. */
export interface HostState {
  links: { name: string; up: boolean }[];
  addresses: HostAddress[];
  /** Values of the keys sysctlKeys() names; undefined when the file does not exist. */
  sysctls: Record<string, string | undefined>;
  saved: SavedState | undefined;
}

export type Step =
  | { op: 'load-module'; module: string }
  | { op: 'sysctl'; key: string; value: string }
  | { op: 'link'; dev: string; up: boolean }
  | { op: 'addr'; add: boolean; dev: string; address: string; prefixLen: number; label: string | undefined };

export interface Plan {
  steps: Step[];
  /** Things the operator should know that are not steps (e.g. an address left alone). */
  notes: string[];
  /** The state to save; undefined = remove the file (nothing of ours is left). */
  state: SavedState | undefined;
  stateChanged: boolean;
}

export const TUN_DEV = 'tunl0';
const LABEL_SUFFIX = 'duet';

/** Where the VIPs go. */
export const vipDev = (mode: Mode): string => (mode === 'dr' ? 'lo' : TUN_DEV);

/** IPv4 addresses carry a label "<dev>:duet" so ours are recognisable even without the state file. */
export const ourLabel = (dev: string): string => `${dev}:${LABEL_SUFFIX}`;

const fullLen = (f: Family): number => (f === 4 ? 32 : 128);

/** "net/ipv4/conf/eth0.100/arp_ignore" as sysctl(8) names it: net.ipv4.conf.eth0/100.arp_ignore. */
export const sysctlName = (key: string): string => key.split('/').map((c) => c.replaceAll('.', '/')).join('.');

const confKey = (iface: string, name: string): string => `net/ipv4/conf/${iface}/${name}`;

/** The sysctls a mode needs, in the order they are written. */
export function wantedSysctls(o: RealServerOptions): [key: string, value: string][] {
  const out: [string, string][] = [];
  // ARP settings only matter for IPv4; IPv6 neighbour discovery already answers only for
  // addresses on the receiving interface.
  if (o.vips.some((v) => v.family === 4)) {
    for (const iface of new Set(['all', o.dev ?? vipDev(o.mode)])) {
      out.push([confKey(iface, 'arp_ignore'), '1'], [confKey(iface, 'arp_announce'), '2']);
    }
  }
  if (o.mode === 'tun') out.push([confKey('all', 'rp_filter'), '0'], [confKey(TUN_DEV, 'rp_filter'), '0']);
  return out;
}

/** What readHost must read: the wanted keys, and the defaults a not-yet-created tunl0 will inherit. */
export function sysctlKeys(o: RealServerOptions): string[] {
  const keys = wantedSysctls(o).map(([k]) => k);
  const inherited = keys.filter((k) => k.startsWith(`net/ipv4/conf/${TUN_DEV}/`)).map((k) => k.replace(`/${TUN_DEV}/`, '/default/'));
  return [...new Set([...keys, ...inherited])];
}

/** Problems with the options themselves, before looking at the host. */
export function validateOptions(o: RealServerOptions, action: 'setup' | 'teardown'): string | undefined {
  if (action === 'setup' && o.vips.length === 0) return 'setup needs at least one --vip';
  const v6 = o.vips.find((v) => v.family === 6);
  // IPVS tunnels IPv6 in ip6ip6 (ip6tnl0, another module); only the ipip case is handled here.
  if (o.mode === 'tun' && v6) return `--mode tun handles IPv4 VIPs (tunl0, ipip) only, got ${v6.address}`;
  if (o.dev !== undefined && !/^[^\s/:]{1,15}$/.test(o.dev)) return `--dev: not an interface name: '${o.dev}'`;
  return undefined;
}

const emptyState = (): SavedState => ({ version: 1, addresses: [], sysctls: {}, linksUp: [] });
const cloneState = (s: SavedState | undefined): SavedState => (s ? structuredClone(s) : emptyState());
const linkOf = (h: HostState, name: string) => h.links.find((l) => l.name === name);
const findAddr = (h: HostState, dev: string, address: string) => h.addresses.find((a) => a.ifname === dev && a.address === address);

export function planSetup(o: RealServerOptions, h: HostState): Plan {
  const bad = validateOptions(o, 'setup');
  if (bad) throw new Error(bad);
  if (o.dev !== undefined && !linkOf(h, o.dev)) throw new Error(`--dev ${o.dev}: no such interface`);
  const state = cloneState(h.saved);
  const steps: Step[] = [];
  const notes: string[] = [];
  const dev = vipDev(o.mode);
  const devMissing = !linkOf(h, dev);
  // tunl0 appears (down) in every namespace once the ipip module is loaded.
  if (devMissing) steps.push({ op: 'load-module', module: 'ipip' });

  // Sysctls before the address: no moment where the VIP is up and ARP still answered for it.
  for (const [key, value] of wantedSysctls(o)) {
    const onMissingDev = devMissing && key.includes(`/${dev}/`);
    const current = onMissingDev ? h.sysctls[key.replace(`/${dev}/`, '/default/')] : h.sysctls[key];
    if (current === undefined) throw new Error(`cannot read ${sysctlName(key)}`);
    if (current === value) continue;
    steps.push({ op: 'sysctl', key, value });
    state.sysctls[key] ??= { previous: current, set: value };
  }

  if (devMissing || !linkOf(h, dev)!.up) {
    steps.push({ op: 'link', dev, up: true });
    if (!state.linksUp.includes(dev)) state.linksUp.push(dev);
  }

  for (const v of o.vips) addVip(v, dev, h, state, steps, notes);
  return finish(steps, notes, state, h.saved);
}

function addVip(v: Vip, dev: string, h: HostState, state: SavedState, steps: Step[], notes: string[]): void {
  const prefixLen = fullLen(v.family);
  const elsewhere = h.addresses.filter((a) => a.address === v.address && a.ifname !== dev).map((a) => a.ifname);
  if (elsewhere.length > 0) notes.push(`${v.address} is also on ${elsewhere.join(', ')}: a real server must hold the VIP only on ${dev}, or it answers ARP for it`);
  const existing = findAddr(h, dev, v.address);
  const recorded = state.addresses.some((a) => a.dev === dev && a.address === v.address);
  if (existing) {
    if (!recorded && !isOurs(existing, dev)) notes.push(`${v.address} was already on ${dev} (not added by duet): left alone, and teardown will not remove it`);
    return;
  }
  const label = v.family === 4 ? ourLabel(dev) : undefined;
  steps.push({ op: 'addr', add: true, dev, address: v.address, prefixLen, label });
  if (!recorded) state.addresses.push({ dev, address: v.address, prefixLen });
}

const isOurs = (a: HostAddress, dev: string): boolean => a.label === ourLabel(dev);

export function planTeardown(o: RealServerOptions, h: HostState): Plan {
  const bad = validateOptions(o, 'teardown');
  if (bad) throw new Error(bad);
  const state = cloneState(h.saved);
  const steps: Step[] = [];
  const notes: string[] = [];
  const targets = o.vips.length > 0 ? o.vips.map((v) => v.address) : state.addresses.map((a) => a.address);
  for (const address of new Set(targets)) removeVip(address, vipDev(o.mode), h, state, steps, notes);

  if (state.addresses.length > 0) {
    // Other VIPs of ours still depend on the ARP and rp_filter settings.
    notes.push(`sysctls kept: still needed by ${state.addresses.map((a) => a.address).join(', ')}`);
    return finish(steps, notes, state, h.saved);
  }
  restoreSysctls(state, h, steps, notes);
  for (const dev of state.linksUp) if (linkOf(h, dev)?.up) steps.push({ op: 'link', dev, up: false });
  return finish(steps, notes, undefined, h.saved);
}

/** Remove one VIP if it is ours: recorded in the state, or (IPv4) carrying our label on the mode's device. */
function removeVip(address: string, modeDev: string, h: HostState, state: SavedState, steps: Step[], notes: string[]): void {
  const recorded = state.addresses.filter((a) => a.address === address);
  const devs = new Set([...recorded.map((a) => a.dev), modeDev]);
  for (const dev of devs) {
    const present = findAddr(h, dev, address);
    if (!present) continue;
    if (recorded.some((a) => a.dev === dev) || isOurs(present, dev)) {
      steps.push({ op: 'addr', add: false, dev, address, prefixLen: present.prefixLen, label: undefined });
    } else {
      notes.push(`${address} on ${dev} was not added by duet: left alone`);
    }
  }
  state.addresses = state.addresses.filter((a) => a.address !== address);
}

function restoreSysctls(state: SavedState, h: HostState, steps: Step[], notes: string[]): void {
  for (const [key, s] of Object.entries(state.sysctls)) {
    const current = h.sysctls[key];
    if (current === undefined || current === s.previous) continue; // interface gone, or already back
    if (current !== s.set) {
      notes.push(`${sysctlName(key)} is ${current}, not the ${s.set} setup wrote: changed since, left alone (was ${s.previous})`);
      continue;
    }
    steps.push({ op: 'sysctl', key, value: s.previous });
  }
}

function finish(steps: Step[], notes: string[], state: SavedState | undefined, before: SavedState | undefined): Plan {
  const isEmpty = (s: SavedState | undefined): boolean =>
    !s || (s.addresses.length === 0 && Object.keys(s.sysctls).length === 0 && s.linksUp.length === 0);
  const next = isEmpty(state) ? undefined : state;
  const stateChanged = JSON.stringify(next ?? null) !== JSON.stringify(isEmpty(before) ? null : before);
  return { steps, notes, state: next, stateChanged };
}

/** A step as the command an operator would type for it. */
export function formatStep(s: Step): string {
  switch (s.op) {
    case 'load-module':
      return `modprobe ${s.module}`;
    case 'sysctl':
      return `sysctl -w ${sysctlName(s.key)}=${s.value}`;
    case 'link':
      return `ip link set dev ${s.dev} ${s.up ? 'up' : 'down'}`;
    case 'addr': {
      const base = `ip addr ${s.add ? 'add' : 'del'} ${s.address}/${s.prefixLen} dev ${s.dev}`;
      // Rtnl adds IPv6 VIPs without duplicate address detection.
      const extra = s.add ? (s.label ? ` label ${s.label}` : s.address.includes(':') ? ' nodad' : '') : '';
      return base + extra;
    }
  }
}
