// The thin I/O side of `duet realserver`: read the host (links and addresses over rtnetlink,
// sysctls from /proc/sys, the state file), and carry out a plan's steps. /proc/sys/net and
// rtnetlink both belong to the caller's network namespace, so this works per namespace.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRtNetlink } from 'netlink';
import { IoError } from '../core/errors.js';
import { Rtnl } from '../netlink/rtnl.js';
import type { HostState, SavedState, Step } from './plan.js';

export const DEFAULT_STATE_FILE = '/run/duet/realserver.json';
const PROC_SYS = '/proc/sys';

export async function readSysctl(key: string): Promise<string | undefined> {
  try {
    return (await readFile(join(PROC_SYS, key), 'utf8')).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new IoError(`read ${join(PROC_SYS, key)}: ${(e as Error).message}`, { cause: e });
  }
}

async function writeSysctl(key: string, value: string): Promise<void> {
  await writeFile(join(PROC_SYS, key), `${value}\n`).catch((e: Error) => {
    throw new IoError(`write ${join(PROC_SYS, key)}: ${e.message}`, { cause: e });
  });
}

export async function readState(file: string): Promise<SavedState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new IoError(`read ${file}: ${(e as Error).message}`, { cause: e });
  }
  const s = JSON.parse(text) as Partial<SavedState>;
  if (s.version !== 1 || !Array.isArray(s.addresses) || typeof s.sysctls !== 'object' || !Array.isArray(s.linksUp)) {
    throw new IoError(`${file}: not a duet realserver state file (remove it if nothing of duet's is set up)`);
  }
  return s as SavedState;
}

/** Written whole through a rename, so a crash never leaves half a file. */
export async function writeState(file: string, s: SavedState | undefined): Promise<void> {
  if (s === undefined) {
    await rm(file, { force: true });
    return;
  }
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(s, null, 2)}\n`);
  await rename(tmp, file);
}

export async function readHost(rtnl: Rtnl, sysctlKeys: string[], stateFile: string): Promise<HostState> {
  const links = (await rtnl.listLinks()).map((l) => ({ name: l.name, up: l.up }));
  const addresses = (await rtnl.listAddresses()).map((a) => ({ ifname: a.ifname, address: a.address, prefixLen: a.prefixLen, label: a.label }));
  const saved = await readState(stateFile);
  // Teardown restores what setup recorded, which may be more than these options name (e.g.
  // teardown without --vip, or setup given --dev and teardown not).
  const keys = new Set([...sysctlKeys, ...Object.keys(saved?.sysctls ?? {})]);
  const sysctls: Record<string, string | undefined> = {};
  for (const k of keys) sysctls[k] = await readSysctl(k);
  return { links, addresses, sysctls, saved };
}

function modprobe(module: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('modprobe', [module], { timeout: 10_000 }, (e, _out, stderr) => {
      if (!e) return resolve();
      reject(new IoError(`modprobe ${module}: ${stderr.trim() || e.message} (--mode tun needs the ${module} module)`, { cause: e }));
    });
  });
}

/**
 * Link up/down. Rtnl has no set-link request (the daemon never changes links), so this uses the
 * netlink package directly, on a socket of its own.
 */
async function setLinkUp(dev: string, up: boolean): Promise<void> {
  const sock = createRtNetlink();
  sock.socket.on('error', () => {});
  try {
    const [m] = await sock.getLink({}, { ifname: dev }, { timeout: 2000 });
    const index = m?.data.index;
    if (index === undefined) throw new Error('no such link');
    await sock.setLink({ index, flags: up ? { up: true } : {}, change: { up: true } }, {}, { timeout: 2000 });
  } catch (e) {
    throw new IoError(`ip link set dev ${dev} ${up ? 'up' : 'down'}: ${(e as Error).message}`, { cause: e });
  } finally {
    sock.socket.close();
  }
}

export async function applyStep(rtnl: Rtnl, s: Step): Promise<void> {
  switch (s.op) {
    case 'load-module':
      return modprobe(s.module);
    case 'sysctl':
      return writeSysctl(s.key, s.value);
    case 'link':
      return setLinkUp(s.dev, s.up);
    case 'addr':
      return s.add
        ? rtnl.addAddress(s.dev, s.address, s.prefixLen, s.label === undefined ? {} : { label: s.label })
        : rtnl.delAddress(s.dev, s.address, s.prefixLen);
  }
}
