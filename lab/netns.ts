// Network-namespace lab for root-only tests: a bridge in its own namespace `${prefix}-br`, one
// namespace per host `${prefix}-${name}` with a veth `${prefix}${i}` into the bridge.
// Addresses from 192.0.2.0/24 (and 2001:db8::/64 when asked), deterministic MACs
// 02:00:00:00:<lab byte>:<i+1>. Needs root and iproute2 only.
//
// Tests run in the host namespace; code under test runs in a host namespace through
// `lab.spawn(host, [process.execPath, script])`, i.e. `ip netns exec`, which also mounts that
// namespace's /sys.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface LabHostSpec {
  name: string;
  /** IPv4 address, "192.0.2.11" or with a prefix "192.0.2.11/24" (default /24). */
  addr: string;
  /** Optional IPv6 address, "2001:db8::11" (default /64), added without DAD. */
  addr6?: string;
}

export interface LabHost {
  name: string;
  ns: string;
  ifname: string;
  /** Peer end in the bridge namespace. */
  brPort: string;
  addr: string;
  prefixLen: number;
  addr6: string | undefined;
  mac: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export interface Lab {
  prefix: string;
  brNs: string;
  hosts: Record<string, LabHost>;
  host(name: string): LabHost;
  /** Run argv in the host's namespace; rejects on a non-zero exit (with stderr) or timeout. */
  exec(host: string, argv: string[], o?: { timeoutMs?: number; input?: string }): Promise<ExecResult>;
  /** Spawn argv in the host's namespace; killed by destroy() if still running. */
  spawn(host: string, argv: string[], opts?: SpawnOptions): ChildProcess;
  /** Delete the host's link to the bridge (both veth ends go), as a bond or VLAN torn down. */
  deleteLink(host: string): Promise<void>;
  /** Create it again as at the start (same name, MAC and addresses; a new ifindex), and wait until it is up. */
  createLink(host: string): Promise<void>;
  /** Remove everything; safe to call more than once. */
  destroy(): Promise<void>;
}

const IP = 'ip';

export function run(argv: string[], o: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = execFile(cmd!, args, { timeout: o.timeoutMs ?? 10_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const e = new Error(`${argv.join(' ')}: ${err.message.trim()}${stderr ? `\n${stderr.trim()}` : ''}`, { cause: err });
        reject(e);
      } else resolve({ stdout, stderr });
    });
    if (o.input !== undefined) child.stdin?.end(o.input);
  });
}

/** `ip [-n ns] -b -` with the given command lines. */
export function ipBatch(lines: string[], o: { ns?: string; force?: boolean } = {}): Promise<ExecResult> {
  const argv = [IP, ...(o.ns ? ['-n', o.ns] : []), ...(o.force ? ['-force'] : []), '-b', '-'];
  return run(argv, { input: `${lines.join('\n')}\n` });
}

export async function listNetns(): Promise<string[]> {
  const { stdout } = await run([IP, 'netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

/**
 * Delete every namespace named `${prefix}-*` (leftovers of a crashed run), after killing the
 * processes still in them (a daemon left behind would otherwise keep running, and advertising).
 */
export async function removeStale(prefix: string): Promise<void> {
  const stale = (await listNetns()).filter((n) => n.startsWith(`${prefix}-`));
  if (stale.length === 0) return;
  for (const n of stale) {
    const { stdout } = await run([IP, 'netns', 'pids', n]).catch(() => ({ stdout: '' }));
    for (const pid of stdout.split('\n').map(Number).filter((x) => x > 1)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  await ipBatch(stale.map((n) => `netns del ${n}`), { force: true }).catch(() => {});
}

async function operUp(ns: string, ifname: string): Promise<boolean> {
  const { stdout } = await run([IP, '-n', ns, '-j', 'link', 'show', 'dev', ifname]);
  const [l] = JSON.parse(stdout) as { operstate?: string; flags?: string[] }[];
  return l?.operstate === 'UP' && (l.flags ?? []).includes('LOWER_UP');
}

const parseAddr = (a: string, def: number): [string, number] => {
  const [ip, len] = a.split('/');
  return [ip!, len === undefined ? def : Number(len)];
};

export async function createLab(prefix: string, hosts: LabHostSpec[]): Promise<Lab> {
  if (!/^[a-z][a-z0-9]{0,7}$/.test(prefix)) throw new Error(`lab prefix ${prefix}: 1-8 lower-case alphanumerics`);
  if (hosts.length > 99) throw new Error('at most 99 hosts');
  await removeStale(prefix);

  const labByte = [...prefix].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) & 0xff, 7);
  const brNs = `${prefix}-br`;
  const table: Record<string, LabHost> = {};
  hosts.forEach((h, i) => {
    if (!/^[a-z0-9]+$/.test(h.name) || h.name === 'br') throw new Error(`bad host name ${h.name}`);
    const [addr, prefixLen] = parseAddr(h.addr, 24);
    const [addr6] = h.addr6 ? parseAddr(h.addr6, 64) : [undefined];
    table[h.name] = {
      name: h.name,
      ns: `${prefix}-${h.name}`,
      ifname: `${prefix}${i}`,
      brPort: `${prefix}${i}p`,
      addr,
      prefixLen,
      addr6,
      mac: `02:00:00:00:${labByte.toString(16).padStart(2, '0')}:${(i + 1).toString(16).padStart(2, '0')}`,
    };
  });
  const all = Object.values(table);
  const children = new Set<ChildProcess>();
  let destroyed = false;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    // Processes keep a namespace (and its veth) alive after `netns del`: stop them first.
    await Promise.all(
      [...children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(resolve, 2000);
            c.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            c.kill('SIGKILL');
          }),
      ),
    );
    await removeStale(prefix);
  };

  const vethOf = (h: LabHost): string => `link add ${h.ifname} netns ${h.ns} address ${h.mac} type veth peer name ${h.brPort} netns ${brNs}`;
  const bridgeSteps = (h: LabHost): string[] => [`link set ${h.brPort} master br0`, `link set ${h.brPort} up`];
  const hostSteps = (h: LabHost): string[] => [
    `addr add ${h.addr}/${h.prefixLen} dev ${h.ifname}`,
    ...(h.addr6 ? [`addr add ${h.addr6}/64 dev ${h.ifname} nodad`] : []),
    `link set ${h.ifname} up`,
  ];
  const linksUp = async (hs: LabHost[]): Promise<void> => {
    await waitFor(async () => (await Promise.all([...hs.map((h) => operUp(h.ns, h.ifname)), ...hs.map((h) => operUp(brNs, h.brPort))])).every(Boolean), {
      timeoutMs: 5000,
      intervalMs: 25,
      what: `lab ${prefix} links up`,
    });
  };

  try {
    // 1. namespaces and veth pairs, created directly in their namespaces (no host-side names).
    await ipBatch([
      `netns add ${brNs}`,
      ...all.map((h) => `netns add ${h.ns}`),
      ...all.map(vethOf),
    ]);
    // 2. the bridge: no STP, no forwarding delay.
    await ipBatch(
      [
        'link set lo up',
        'link add br0 type bridge stp_state 0 forward_delay 0',
        'link set br0 up',
        ...all.flatMap(bridgeSteps),
      ],
      { ns: brNs },
    );
    // 3. each host.
    await Promise.all(
      all.map((h) =>
        ipBatch(
          ['link set lo up', ...hostSteps(h)],
          { ns: h.ns },
        ),
      ),
    );
    // 4. veth carrier comes up through the kernel's linkwatch, up to ~1 s later: wait for it,
    // so tests start from links that are operationally up on both ends.
    await linksUp(all);
  } catch (e) {
    await destroy();
    throw e;
  }

  const nsOf = (host: string): string => {
    const h = table[host];
    if (!h) throw new Error(`lab ${prefix}: no host ${host}`);
    return h.ns;
  };

  return {
    prefix,
    brNs,
    hosts: table,
    host(name) {
      const h = table[name];
      if (!h) throw new Error(`lab ${prefix}: no host ${name}`);
      return h;
    },
    async deleteLink(host) {
      const h = table[host];
      if (!h) throw new Error(`lab ${prefix}: no host ${host}`);
      await run([IP, '-n', h.ns, 'link', 'del', h.ifname]);
    },
    async createLink(host) {
      const h = table[host];
      if (!h) throw new Error(`lab ${prefix}: no host ${host}`);
      await ipBatch([vethOf(h)]);
      await ipBatch(bridgeSteps(h), { ns: brNs });
      await ipBatch(hostSteps(h), { ns: h.ns });
      await linksUp([h]);
    },
    exec(host, argv, o) {
      return run([IP, 'netns', 'exec', nsOf(host), ...argv], o);
    },
    spawn(host, argv, opts = {}) {
      const c = spawn(IP, ['netns', 'exec', nsOf(host), ...argv], opts);
      children.add(c);
      c.once('exit', () => children.delete(c));
      return c;
    },
    destroy,
  };
}

/**
 * Poll fn until it returns a truthy value (returned) or the deadline passes (throws with the
 * last value or error). The first call is immediate; calls never overlap.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  o: { timeoutMs: number; intervalMs?: number; what?: string },
): Promise<NonNullable<T>> {
  const deadline = performance.now() + o.timeoutMs;
  const interval = o.intervalMs ?? 20;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${o.timeoutMs} ms waiting for ${o.what ?? 'condition'} (last: ${detail})`, {
        cause: last,
      });
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, left)));
  }
}

/** Per host: the IPv4 addresses on its lab interface other than its own (the VIPs), "ADDR/LEN LABEL", sorted. */
export async function labVips(lab: Lab, hosts: readonly string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const h of hosts) {
    const { stdout } = await lab.exec(h, ['ip', '-j', '-4', 'addr', 'show', 'dev', lab.host(h).ifname]);
    const info = (JSON.parse(stdout) as { addr_info: { local: string; prefixlen: number; label?: string }[] }[]).flatMap((l) => l.addr_info);
    out[h] = info.filter((a) => a.local !== lab.host(h).addr).map((a) => `${a.local}/${a.prefixlen} ${a.label ?? ''}`).sort();
  }
  return out;
}
