// Differential: one keepalived.conf, run once by keepalived 2.2.7 on two namespaces (config ids
// a and b), once by duet from `duet import keepalived --config-id a|b` of the same file. Both
// runs must elect the same master for each instance and put the same VIPs (address, prefix,
// label) on the same host, and hold that for a while. The file uses the import's syntax
// features (@conditional lines, $definitions set under a condition, a label) and two instances
// whose masters differ: VRRPv2 with a password at 1 s, VRRPv3 at 0.2 s.
// Then host a stops (SIGTERM: priority-0 adverts) and b must hold both instances and every VIP,
// the same in both runs. Control: the keepalived run itself must show two different masters with
// their VIPs, so an empty or swapped result on either side fails the comparison.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, labVips, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, describeNodes, DUET_CLI, type DuetNode } from '../../lab/duet-node.js';
import { startKeepalived, type KeepalivedNode } from '../../lab/keepalived.js';

const root = process.getuid?.() === 0;
const rootTest = root ? test.serial : test.skip;
const HOSTS = ['a', 'b'] as const;

let lab: Lab;
let dir: string;
const duets: DuetNode[] = [];
const kas: KeepalivedNode[] = [];

/** The keepalived.conf under test; imp0 / imp1 are the lab's interfaces of hosts a and b. */
const CONF = `! duet import differential test
@a $IF=imp0
@b $IF=imp1
global_defs {
  vrrp_garp_master_delay 1
}
vrrp_instance VI_1 {
  state BACKUP
  interface $IF
  virtual_router_id 61
@a  priority 150
@b  priority 100
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass s3cret
  }
  virtual_ipaddress {
    192.0.2.100/24 label \${IF}:vip
    192.0.2.101/24
  }
}
vrrp_instance VI_2 {
  interface $IF   # VI_2: b wins
  version 3
  virtual_router_id 62
@a  priority 90
@b  priority 200
  advert_int 0.2
  virtual_ipaddress {
    192.0.2.110/24
  }
}
`;

if (root) {
  test.before(async () => {
    lab = await createLab('imp', [{ name: 'a', addr: '192.0.2.11' }, { name: 'b', addr: '192.0.2.12' }]);
    dir = mkdtempSync(join(tmpdir(), 'duet-imp-'));
  });
  test.afterEach.always(async (t) => {
    if (!t.passed) {
      for (const d of describeNodes(duets)) t.log(d);
      for (const k of kas) t.log(`keepalived ${k.host}`, k.text().slice(-3000));
    }
    await stopAll();
  });
  test.after.always(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}

async function stopAll(): Promise<void> {
  for (const n of duets.splice(0)) n.cleanup();
  await Promise.all(kas.splice(0).map((k) => k.cleanup()));
  for (const h of HOSTS) {
    await lab.exec(h, ['ip', 'addr', 'flush', 'dev', lab.host(h).ifname, 'to', '192.0.2.64/26']).catch(() => undefined);
  }
}

const vips = (): Promise<Record<string, string[]>> => labVips(lab, HOSTS);

type States = Record<string, Record<string, string>>;

/** Each instance has one master and the rest backup among the running hosts: the settled election. */
const settled = (s: States, hosts: readonly string[]): boolean =>
  ['VI_1', 'VI_2'].every((i) => hosts.filter((h) => s[h]?.[i] === 'master').length === 1 && hosts.every((h) => ['master', 'backup'].includes(s[h]?.[i] ?? '')));

/** Wait for a settled election, then check it and the VIPs hold for holdMs; returns both. */
async function outcome(states: () => Promise<States>, holdMs: number): Promise<{ states: States; vips: Record<string, string[]> }> {
  const first = await waitFor(async () => { const s = await states(); return settled(s, Object.keys(s)) ? s : undefined; }, { timeoutMs: 20_000, intervalMs: 100, what: 'a settled election' });
  // The VIPs follow the state change (and a second GARP burst); let them land, then hold.
  await new Promise((r) => setTimeout(r, 500));
  const v = await vips();
  const end = performance.now() + holdMs;
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, 250));
    const [s2, v2] = [await states(), await vips()];
    if (JSON.stringify(s2) !== JSON.stringify(first) || JSON.stringify(v2) !== JSON.stringify(v)) {
      throw new Error(`not stable: ${JSON.stringify({ first, s2, v, v2 })}`);
    }
  }
  return { states: first, vips: v };
}

function importFor(file: string, id: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [DUET_CLI, 'import', 'keepalived', file, '--config-id', id, '--check'], { timeout: 30_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr }));
  });
}

rootTest('keepalived from the file and duet from its import elect the same masters with the same VIPs, also after one stops', async (t) => {
  const file = join(dir, 'keepalived.conf');
  writeFileSync(file, CONF);

  // Run 1: keepalived.
  for (const h of HOSTS) kas.push(await startKeepalived(lab, h, CONF, { args: ['-i', h] }));
  const ka = await outcome(async () => {
    const out: States = {};
    for (const k of kas) out[k.host] = Object.fromEntries((await k.dump()).map((d) => [d.name, d.state]));
    return out;
  }, 3000);
  // Control: the config makes a difference to see (each instance has its own master, VIPs on it).
  t.deepEqual(ka.states, { a: { VI_1: 'master', VI_2: 'backup' }, b: { VI_1: 'backup', VI_2: 'master' } });
  t.deepEqual(ka.vips, { a: ['192.0.2.100/24 imp0:vip', '192.0.2.101/24 imp0'], b: ['192.0.2.110/24 imp1'] });
  // a stops (priority 0 adverts): b takes VI_1 as well.
  kas[0]!.kill('SIGTERM');
  await kas[0]!.exited();
  const kaAlone = await outcome(async () => ({ b: Object.fromEntries((await kas[1]!.dump()).map((d) => [d.name, d.state])) }), 2000);
  t.deepEqual(kaAlone.states, { b: { VI_1: 'master', VI_2: 'master' } });
  await stopAll();
  t.deepEqual(await vips(), { a: [], b: [] }, 'keepalived removed its VIPs');

  // Run 2: duet from the import of the same file.
  for (const h of HOSTS) {
    const r = await importFor(file, h);
    t.is(r.code, 0, `import for ${h}: ${r.stderr}`);
    duets.push(await startDuet(lab, h, r.stdout));
  }
  const duet = await outcome(async () => {
    const out: States = {};
    for (const d of duets) out[d.host] = Object.fromEntries((await d.status()).instances.map((i) => [i.name, i.state.toLowerCase()]));
    return out;
  }, 3000);
  t.deepEqual(duet, ka);
  duets[0]!.kill('SIGTERM');
  await duets[0]!.exited();
  const duetAlone = await outcome(async () => ({ b: Object.fromEntries((await duets[1]!.status()).instances.map((i) => [i.name, i.state.toLowerCase()])) }), 2000);
  t.deepEqual(duetAlone, kaAlone);
});
