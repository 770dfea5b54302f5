// The real Linux edge for the daemon: rtnetlink for addresses and links, raw or UDP sockets
// for VRRP, a packet socket for gratuitous ARP / unsolicited NA.
import { workerChecks } from '../check/host.js';
import type { Logger } from '../core/log.js';
import { Rtnl } from '../netlink/rtnl.js';
import { createRawTransport } from '../vrrp/raw-transport.js';
import { createUdpTransport } from '../vrrp/udp-transport.js';
import { createRaw6Transport } from '../vrrp/raw6-transport.js';
import { createGarpSender, type GarpSender } from '../vrrp/garp.js';
import { IoError } from '../core/errors.js';
import { IpvsClient } from '../ipvs/genl-client.js';
import { runChild, killChildGroups } from './child.js';
import { createPinger, type Pinger } from './icmp-ping.js';
import { readFileSync, writeFileSync, renameSync, mkdirSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Platform } from './platform.js';
import type { Override } from '../control/views.js';
import { parseMarker } from './restart.js';

/** The names come from the config schema's fixed list, never from input paths. */
const ipvsSysctlPath = (name: string): string => `/proc/sys/net/ipv4/vs/${name}`;

export async function createLinuxPlatform(log: Logger, o: { stateDir: string }): Promise<Platform & { close(): void }> {
  const rtnl = new Rtnl();
  let garp: GarpSender | undefined;
  let ipvs: IpvsClient | undefined;
  let pinger: Pinger | undefined;
  const managedFile = join(o.stateDir, 'ipvs-managed.json');
  const operatorFile = join(o.stateDir, 'operator.json');
  const restartFile = join(o.stateDir, 'restart.json');
  // Written whole to a temp file and renamed, so a crash never leaves half a file.
  const writeAtomic = (file: string, text: string): void => {
    mkdirSync(o.stateDir, { recursive: true });
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  const garpSender = (): GarpSender => (garp ??= createGarpSender());
  return {
    async openTransport(k) {
      if (k.kind === 'udp') {
        const src = k.srcAddress ?? (await primaryAddress(rtnl, k.ifname, k.family));
        return createUdpTransport({ ifname: k.ifname, srcAddress: src, port: k.udpPort, multicast: !k.unicast });
      }
      if (k.family === 6) return createRaw6Transport({ ifname: k.ifname, multicast: !k.unicast, ...(k.srcAddress ? { srcAddress: k.srcAddress } : {}) });
      return createRawTransport({ ifname: k.ifname, family: 4, multicast: !k.unicast, ...(k.srcAddress ? { srcAddress: k.srcAddress } : {}) });
    },
    addAddress: (ifname, address, prefixLen, label) => rtnl.addAddress(ifname, address, prefixLen, label ? { label } : {}),
    delAddress: (ifname, address, prefixLen) => rtnl.delAddress(ifname, address, prefixLen),
    async link(ifname) {
      const l = await rtnl.findLink(ifname);
      return l && { index: l.index, up: l.up && l.running };
    },
    watchLinks(cb) {
      return rtnl.watchLinks((e) => cb(e.name, e.type === 'new' ? { index: e.index, up: e.up && e.running } : undefined),
        (e) => log.error({ err: e.message }, 'link watch failed'));
    },
    macAddress: (ifname) => readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim(),
    async runHook(argv, vars, timeoutMs) {
      const r = await runChild(argv, { timeoutMs, vars });
      if (r.code === 0 && !r.timedOut) return;
      const how = r.timedOut ? `timed out after ${timeoutMs} ms (its process group was killed)` : r.code !== null ? `exit ${r.code}` : `killed by ${r.signal}`;
      throw new IoError(`${argv[0]}: ${how}${r.output ? `; output: ${r.output.trim().slice(0, 500)}` : ''}`);
    },
    runScript: (argv, timeoutMs) => runChild(argv, { timeoutMs }),
    ping: (address, timeoutMs) => (pinger ??= createPinger()).ping(address, timeoutMs),
    sendGarp: (ifname, address, mac) => garpSender().sendGarp(ifname, address, mac),
    sendUnsolicitedNa: (ifname, address, mac) => garpSender().sendUnsolicitedNa(ifname, address, mac),
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
    openChecks: (onEvent, onError) => workerChecks({ onEvent, onError }),
    loadManaged() {
      try {
        return new Set(JSON.parse(readFileSync(managedFile, 'utf8')) as string[]);
      } catch {
        return undefined;
      }
    },
    saveManaged(keys) { writeAtomic(managedFile, JSON.stringify([...keys].sort())); },
    loadOverrides() {
      try {
        return JSON.parse(readFileSync(operatorFile, 'utf8')) as Record<string, Override>;
      } catch {
        return undefined;
      }
    },
    saveOverrides(v) { writeAtomic(operatorFile, JSON.stringify(v)); },
    takeRestartMarker() {
      let text: string;
      try { text = readFileSync(restartFile, 'utf8'); } catch { return undefined; }
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

async function primaryAddress(rtnl: Rtnl, ifname: string, family: 4 | 6): Promise<string> {
  const a = (await rtnl.listAddresses(ifname)).find((x) => x.family === family && !x.secondary);
  if (!a) throw new IoError(`${ifname} has no IPv${family} address to send VRRP from`);
  return a.address;
}
