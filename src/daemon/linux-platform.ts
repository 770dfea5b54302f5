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
import { readFileSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Platform } from './daemon.js';
import type { Override } from './operator.js';

export async function createLinuxPlatform(log: Logger, o: { stateDir: string }): Promise<Platform & { close(): void }> {
  const rtnl = new Rtnl();
  let garp: GarpSender | undefined;
  let ipvs: IpvsClient | undefined;
  const managedFile = join(o.stateDir, 'ipvs-managed.json');
  const operatorFile = join(o.stateDir, 'operator.json');
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
    async linkUp(ifname) {
      const l = await rtnl.getLink(ifname);
      return l.up && l.running;
    },
    watchLinks(cb) {
      return rtnl.watchLinks((e) => cb(e.name, e.type === 'new' && e.up && e.running),
        (e) => log.error({ err: e.message }, 'link watch failed'));
    },
    sendGarp: (ifname, address, mac) => garpSender().sendGarp(ifname, address, mac),
    sendUnsolicitedNa: (ifname, address, mac) => garpSender().sendUnsolicitedNa(ifname, address, mac),
    async openIpvs() { return (ipvs ??= await IpvsClient.open()); },
    openChecks: (onEvent, onError) => workerChecks({ onEvent, onError }),
    loadManaged() {
      try {
        return new Set(JSON.parse(readFileSync(managedFile, 'utf8')) as string[]);
      } catch {
        return undefined;
      }
    },
    saveManaged(keys) {
      // Written whole to a temp file and renamed, so a crash never leaves half a list.
      mkdirSync(o.stateDir, { recursive: true });
      writeFileSync(`${managedFile}.tmp`, JSON.stringify([...keys].sort()));
      renameSync(`${managedFile}.tmp`, managedFile);
    },
    loadOverrides() {
      try {
        return JSON.parse(readFileSync(operatorFile, 'utf8')) as Record<string, Override>;
      } catch {
        return undefined;
      }
    },
    saveOverrides(v) {
      mkdirSync(o.stateDir, { recursive: true });
      writeFileSync(`${operatorFile}.tmp`, JSON.stringify(v));
      renameSync(`${operatorFile}.tmp`, operatorFile);
    },
    close() { garp?.close(); ipvs?.close(); rtnl.close(); },
  };
}

async function primaryAddress(rtnl: Rtnl, ifname: string, family: 4 | 6): Promise<string> {
  const a = (await rtnl.listAddresses(ifname)).find((x) => x.family === family && !x.secondary);
  if (!a) throw new IoError(`${ifname} has no IPv${family} address to send VRRP from`);
  return a.address;
}
