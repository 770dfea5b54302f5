// Differential over Debian's VRRP samples (/usr/share/doc/keepalived/samples): for each sample
// whose VRRP part the import translates, two namespaces run keepalived 2.2.7 (VRRP only) from
// the sample, then duet from the import of the same text, and both runs must elect the same
// master for every instance and leave the same VIPs (address/prefix and label, `ip -j addr`) on
// each host, held for a second. The samples are written for one host: host a runs the sample,
// host b the sample with every instance's priority 10 higher or lower (alternating by instance,
// the same for all members of a sync group), so each host is master of something and no
// election is a tie. Host a starts first and becomes master of everything; then b starts and
// takes over where it has the higher priority and may preempt (nopreempt: it may not); the
// result counts once b's master-down interval has passed and it has held for a second. Interfaces (eth0, eth1, ...) become the lab's one interface per host (the
// samples' VRIDs differ across them); notify programs that do not exist here
// (/usr/local/bin/vrrp.*) become /usr/bin/true on both sides (duet refuses a missing program,
// keepalived would run and fail it). keepalived runs with --vrrp and duet without the
// virtual_servers section: this kernel has no IPVS, and the tables are
// test/vm/import-ipvs.test.ts's. Skipped samples, with why: docs/import-keepalived.md.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { createLab, labVips, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, describeNodes, type DuetNode } from '../../lab/duet-node.js';
import { startKeepalived, type KeepalivedNode } from '../../lab/keepalived.js';
import { importKeepalived } from '../../src/import/keepalived.js';

const root = process.getuid?.() === 0;
const rootTest = root ? test.serial : test.skip;
const HOSTS = ['a', 'b'] as const;
const DIR = '/usr/share/doc/keepalived/samples';
/** The samples run here: each translates its VRRP instances; what it does not translate changes no election or VIP. */
export const SAMPLES = ['vrrp.sync', 'vrrp', 'sample', 'vrrp.lvs_syncd'];

/** Longer than a backup's master-down interval in these samples (3 adverts of 1 s and the skew, under 1 s). */
const MASTER_DOWN_MS = 4200;

let lab: Lab;
const duets: DuetNode[] = [];
const kas: KeepalivedNode[] = [];

if (root) {
  test.before(async () => {
    lab = await createLab('ivs', [{ name: 'a', addr: '192.0.2.11' }, { name: 'b', addr: '192.0.2.12' }]);
  });
  test.afterEach.always(async (t) => {
    if (!t.passed) {
      for (const d of describeNodes(duets)) t.log(d);
      for (const k of kas) t.log(`keepalived ${k.host}`, k.text().slice(-3000));
    }
    await stopAll();
  });
  test.after.always(async () => { await lab?.destroy(); });
}

async function stopDaemons(): Promise<void> {
  for (const n of duets.splice(0)) n.cleanup();
  await Promise.all(kas.splice(0).map((k) => k.cleanup()));
}

async function stopAll(): Promise<void> {
  await stopDaemons();
  // A daemon killed hard leaves its VIPs: the next sample must start from none.
  for (const h of HOSTS) {
    for (const a of (await vips())[h] ?? []) await lab.exec(h, ['ip', 'addr', 'del', a.split(' ')[0]!, 'dev', lab.host(h).ifname]).catch(() => undefined);
  }
}

const vips = (): Promise<Record<string, string[]>> => labVips(lab, HOSTS);

type States = Record<string, Record<string, string>>;

/** Instance → the host that is master; undefined until every instance has one master and the rest backup. */
function masters(s: States): Record<string, string> | undefined {
  const names = [...new Set(Object.values(s).flatMap((x) => Object.keys(x)))].sort();
  const out: Record<string, string> = {};
  for (const i of names) {
    const m = HOSTS.filter((h) => s[h]?.[i] === 'master');
    if (m.length !== 1 || !HOSTS.every((h) => ['master', 'backup'].includes(s[h]?.[i] ?? ''))) return undefined;
    out[i] = m[0]!;
  }
  return out;
}

/**
 * The settled election and the VIPs: every instance with one master, masters and VIPs
 * unchanged for a second, and not before `notBefore` (performance.now()): b's master-down
 * interval after it started, so a preemption it has pending has happened.
 */
async function outcome(states: () => Promise<States>, notBefore: number): Promise<{ masters: Record<string, string>; vips: Record<string, string[]> }> {
  let last = '';
  let since = performance.now();
  const deadline = performance.now() + 20_000;
  for (;;) {
    const m = masters(await states());
    const v = await vips();
    const now = JSON.stringify({ m, v });
    if (now !== last) { last = now; since = performance.now(); }
    if (m && performance.now() >= notBefore && performance.now() - since >= 1000) return { masters: m, vips: v };
    if (performance.now() > deadline) throw new Error(`no stable election in 20 s: ${now}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Until host a, alone, is master of every instance (it starts first: the outcome then does not hang on a start race). */
async function aliveAlone(states: () => Promise<States>): Promise<void> {
  await waitFor(async () => { const s = (await states())['a'] ?? {}; return Object.keys(s).length > 0 && Object.values(s).every((x) => x === 'master'); },
    { timeoutMs: 10_000, intervalMs: 100, what: 'host a master of every instance' });
}

/** The sample as host h runs it: its interface, existing notify programs, b's priorities shifted. */
export function forHost(text: string, ifname: string, shift: (instance: string) => number): string {
  let current = '';
  // keepalived's lvs sync daemon needs IPVS (this kernel has none): dropped, as duet's sync_daemon is.
  return text.split('\n').filter((l) => !/^\s*lvs_sync_daemon/.test(l)).map((line) => {
    let l = line.replace(/\beth\d+(\.\d+)?/g, ifname);
    l = l.replace(/(notify(?:_\w+)?\s+"?)(\/\S+?)(?=[\s"]|$)/, (all, pre: string, prog: string) => (existsSync(prog) ? all : `${pre}/usr/bin/true`));
    const inst = /^\s*vrrp_instance\s+(\S+)/.exec(l);
    if (inst) current = inst[1]!;
    return l.replace(/^(\s*priority\s+)(\d+)/, (_, pre: string, p: string) => `${pre}${Number(p) + shift(current)}`);
  }).join('\n');
}

/** b's shift: +10 / -10 alternating by instance, by sync group for grouped ones. */
function shifts(yaml: string): (instance: string) => number {
  const doc = parse(yaml) as { vrrp: { instances: { name: string }[]; sync_groups?: { instances: string[] }[] } };
  const groupOf = new Map<string, number>();
  (doc.vrrp.sync_groups ?? []).forEach((g, n) => { for (const m of g.instances) groupOf.set(m, n); });
  const index = new Map(doc.vrrp.instances.map((i, n) => [i.name, n]));
  return (name) => ((groupOf.get(name) ?? index.get(name) ?? 0) % 2 === 0 ? 10 : -10);
}

function importText(text: string): string {
  const r = importKeepalived('/sample.conf', { reader: { read: () => text, glob: () => [] }, configId: 'high' });
  if (r.status === 'failed') throw new Error(`import failed: ${JSON.stringify(r.errors)}`);
  const doc = parse(r.yaml) as Record<string, unknown>;
  delete doc['virtual_servers'];
  delete doc['sync_daemon'];
  return stringify(doc);
}

for (const name of SAMPLES) {
  rootTest(`sample ${name}: keepalived and duet from its import elect the same masters with the same VIPs`, async (t) => {
    const text = readFileSync(`${DIR}/keepalived.conf.${name}`, 'utf8');
    const shift = shifts(importText(text));
    const conf = Object.fromEntries(HOSTS.map((h) => [h, forHost(text, lab.host(h).ifname, h === 'a' ? () => 0 : shift)]));

    const kaStates = async (): Promise<States> => {
      const out: States = {};
      for (const k of kas) out[k.host] = Object.fromEntries((await k.dump()).map((d) => [d.name, d.state]));
      return out;
    };
    kas.push(await startKeepalived(lab, 'a', conf['a']!, { args: ['-i', 'high'] }));
    await aliveAlone(kaStates);
    kas.push(await startKeepalived(lab, 'b', conf['b']!, { args: ['-i', 'high'] }));
    const ka = await outcome(kaStates, performance.now() + MASTER_DOWN_MS);
    // Control: each host holds VIPs of what it is master of (a result to compare, not an empty one).
    const masterHosts = new Set(Object.values(ka.masters));
    for (const h of HOSTS) t.is(ka.vips[h]!.length > 0, masterHosts.has(h), `${h}: ${JSON.stringify(ka)}`);
    t.true(Object.keys(ka.masters).length > 0);
    await stopDaemons();
    t.deepEqual(await vips(), { a: [], b: [] }, 'keepalived removed its VIPs');

    const duetStates = async (): Promise<States> => {
      const out: States = {};
      for (const d of duets) out[d.host] = Object.fromEntries((await d.status()).instances.map((i) => [i.name, i.state.toLowerCase()]));
      return out;
    };
    duets.push(await startDuet(lab, 'a', importText(conf['a']!)));
    await aliveAlone(duetStates);
    duets.push(await startDuet(lab, 'b', importText(conf['b']!)));
    const duet = await outcome(duetStates, performance.now() + MASTER_DOWN_MS);
    t.deepEqual(duet, ka);
    t.log(`${name}: masters ${JSON.stringify(ka.masters)}`);
  });
}

// Found by the vrrp.sync sample: its VIPs share subnets across instances, and deleting the first
// (primary) address of a subnet deletes the rest unless promote_secondaries is on, which
// keepalived turns on and duet did not. Host a alone: X becomes master while Y's script fails,
// so X's VIP is the subnet's primary; then Y's script passes and its VIP is added as secondary.
// X's script fails, X goes to FAULT and its VIP goes: Y's must stay.
rootTest('a VIP stays when another instance removes the first address of its subnet (promote_secondaries)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-ivs-'));
  try {
    const [fx, fy] = [join(dir, 'x'), join(dir, 'y')];
    writeFileSync(fx, '');
    const ifname = lab.host('a').ifname;
    const inst = (name: string, vrid: number, vip: string): string =>
      `    - { name: ${name}, interface: ${ifname}, vrid: ${vrid}, version: 2, virtual_ipaddress: [${vip}], track_script: [${name.toLowerCase()}] }\n`;
    const script = (name: string, file: string): string => `    ${name}: { command: [/usr/bin/test, -e, ${file}], interval: 0.2 }\n`;
    const yaml = `vrrp:\n  scripts:\n${script('x', fx)}${script('y', fy)}  instances:\n${inst('X', 71, '198.51.100.10/24')}${inst('Y', 72, '198.51.100.11/24')}`;
    const d = await startDuet(lab, 'a', yaml);
    duets.push(d);
    await d.waitState('X', 'master', 10_000);
    writeFileSync(fy, '');
    await d.waitState('Y', 'master', 10_000);
    const { stdout } = await lab.exec('a', ['ip', '-j', '-4', 'addr', 'show', 'dev', ifname]);
    const flags = (JSON.parse(stdout) as { addr_info: { local: string; secondary?: boolean }[] }[])[0]!.addr_info.filter((x) => x.local.startsWith('198.51.100.'));
    t.deepEqual(flags.map((x) => `${x.local}${x.secondary ? ' secondary' : ''}`), ['198.51.100.10', '198.51.100.11 secondary'], 'X primary, Y secondary');
    rmSync(fx);
    await d.waitState('X', 'fault', 5000);
    await waitFor(async () => !(await vips())['a']!.some((v) => v.startsWith('198.51.100.10/')), { timeoutMs: 3000, intervalMs: 50, what: 'X\'s VIP removed' });
    await new Promise((r) => setTimeout(r, 300));
    t.is((await d.instance('Y'))?.state, 'master');
    t.deepEqual((await vips())['a'], [`198.51.100.11/24 ${ifname}`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
