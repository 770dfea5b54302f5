// Active-active directors announced by BGP, in namespaces (no IPVS needed): an upstream router
// running FRR (zebra + bgpd + bfdd, ECMP with maximum-paths, BFD 100 ms x 5) and three directors,
// each with duet and its BIRD 2 speaker (kernel table 100 learned, exported by a filter, BFD on).
// The router's kernel table shows three next hops for the VIP; `duet maintenance on` on one
// withdraws only that one; stopping one director's real server (its TCP check fails, quorum is
// lost) withdraws only there; SIGKILL of a director's duet and BIRD removes its next hop at once
// (the kernel closes the TCP session); a director whose link goes down (no FIN, no withdraw can
// leave) is removed by BFD within its detection time. Times are measured and logged.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, describeNodes, cli, DUET_CLI, type DuetNode } from '../../lab/duet-node.js';
import type { DaemonStatus } from '../../src/control/views.js';
import { dashboardQueries, missing } from '../../lab/dashboard.js';
import { birdDirectorConf, frrRouterConf } from '../../lab/bgp-confs.js';

const PREFIX = 'bgp0';
const VIP = '198.51.100.10';
const ROUTER = '192.0.2.1';
const DIRECTORS = ['d1', 'd2', 'd3'] as const;
type Director = (typeof DIRECTORS)[number];
const ADDR: Record<Director, string> = { d1: '192.0.2.11', d2: '192.0.2.12', d3: '192.0.2.13' };
/** FRR's pathspace for the router's daemons: sockets under /var/run/frr/bgp0r. */
const PATHSPACE = 'bgp0r';
const FRR_RUN = `/var/run/frr/${PATHSPACE}`;
const BFD_DETECT_MS = 500;

const haveFrr = ((): boolean => { try { execFileSync('/usr/lib/frr/bgpd', ['--version'], { stdio: 'ignore' }); execFileSync('/usr/sbin/bird', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();

let lab: Lab;
let dir: string;
const nodes: DuetNode[] = [];
const speakers = new Map<Director, ChildProcess>();
const realServers = new Map<Director, ChildProcess>();

const ROUTER_CONF = frrRouterConf('bgp0r', 100);

/** What conf/bird-duet.conf ships, with this lab's addresses. */
const birdConf = (d: Director): string => birdDirectorConf(ADDR[d], 100);

const duetConf = (d: Director, sock: string): string => `node: { name: ${d} }
log: { level: debug }
metrics: { listen: ':9470' }
vrrp: { instances: [] }
virtual_servers:
  - name: web
    address: ${VIP}
    port: 80
    lb_kind: dr
    checks: [{ type: tcp, interval: 0.2, timeout: 0.2, rise: 1, fall: 1 }]
    real_servers: [{ address: ${ADDR[d]} }]
bgp:
  table: 100
  speaker: { status_command: [/usr/sbin/birdc, -s, ${sock}, show, protocols], status_interval: 0.5, status_timeout: 1 }
  vips: [{ address: ${VIP}, track_interfaces: [${PREFIX}${DIRECTORS.indexOf(d) + 1}] }]
`;

test.before(async () => {
  if (!haveFrr) return;
  lab = await createLab(PREFIX, [{ name: 'r', addr: ROUTER }, ...DIRECTORS.map((d) => ({ name: d, addr: ADDR[d] }))]);
  dir = mkdtempSync(join(tmpdir(), 'duet-bgp-'));
  chmodSync(dir, 0o755);
  // FRR's daemons run as frr: their config, logs and sockets must be theirs.
  const frrDir = join(dir, 'frr');
  mkdirSync(frrDir);
  writeFileSync(join(frrDir, 'frr.conf'), ROUTER_CONF);
  rmSync(FRR_RUN, { recursive: true, force: true });
  mkdirSync(FRR_RUN, { recursive: true });
  const frr = Number(execFileSync('id', ['-u', 'frr'], { encoding: 'utf8' }).trim());
  const frrGid = Number(execFileSync('id', ['-g', 'frr'], { encoding: 'utf8' }).trim());
  for (const p of [frrDir, join(frrDir, 'frr.conf'), FRR_RUN]) chownSync(p, frr, frrGid);
  for (const daemon of ['zebra', 'bgpd', 'bfdd']) {
    lab.spawn('r', [`/usr/lib/frr/${daemon}`, '-N', PATHSPACE, '-u', 'frr', '-g', 'frr', '-f', join(frrDir, 'frr.conf'), '-i', join(frrDir, `${daemon}.pid`),
      '--log', `file:${join(frrDir, `${daemon}.log`)}`], { stdio: 'ignore' });
    // bgpd and bfdd connect to zebra's socket: start zebra first.
    if (daemon === 'zebra') await waitFor(() => { try { execFileSync('test', ['-S', join(FRR_RUN, 'zserv.api')]); return true; } catch { return false; } }, { timeoutMs: 10_000, what: 'zebra up' });
  }
});

test.after.always(async () => {
  for (const n of nodes.splice(0)) n.cleanup();
  // lab.destroy() SIGKILLs what it spawned (FRR, BIRD, real servers), then deletes the namespaces.
  await lab?.destroy();
  rmSync(FRR_RUN, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The router's next hops for the VIP, from its kernel table (what zebra installed). */
let lastRoute = '';
async function nextHops(): Promise<string[]> {
  const { stdout } = await lab.exec('r', ['ip', '-j', 'route', 'show', `${VIP}/32`]);
  lastRoute = stdout.trim();
  const routes = JSON.parse(stdout) as Array<{ gateway?: string; nexthops?: Array<{ gateway?: string }> }>;
  return routes.flatMap((r) => (r.nexthops ? r.nexthops.map((n) => n.gateway ?? '?') : r.gateway ? [r.gateway] : [])).sort();
}

const want = (ds: readonly Director[]): string[] => ds.map((d) => ADDR[d]).sort();

/** Wait until the router has exactly these next hops; resolves with the ms it took from t0. */
async function waitHops(ds: readonly Director[], t0: number, timeoutMs: number, what: string): Promise<number> {
  const w = JSON.stringify(want(ds));
  const deadline = t0 + timeoutMs;
  for (;;) {
    if (JSON.stringify(await nextHops()) === w) return Math.round(performance.now() - t0);
    if (performance.now() > deadline) throw new Error(`${what}: no router next hops ${w} after ${timeoutMs} ms (ip route: ${lastRoute || 'none'})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function startRealServer(d: Director): void {
  realServers.set(d, lab.spawn(d, [process.execPath, '-e', `require('net').createServer((c) => c.on('error', () => {}).end()).listen(80, '${ADDR[d]}')`], { stdio: 'ignore' }));
}

/** A Prometheus scrape of a director's duet (loopback in its namespace). */
async function scrape(d: Director): Promise<string> {
  const js = "fetch('http://127.0.0.1:9470/metrics').then(async (r) => process.stdout.write(await r.text()), (e) => process.stdout.write('ERR ' + e.message))";
  return (await lab.exec(d, [process.execPath, '-e', js], { timeoutMs: 10_000 })).stdout;
}

async function bgpStatus(n: DuetNode): Promise<NonNullable<DaemonStatus['bgp']>> {
  const s = await n.status();
  if (!s.bgp) throw new Error(`${n.host}: no bgp in status`);
  return s.bgp;
}

test.serial('three directors behind an ECMP router: maintenance, quorum, SIGKILL and link down each remove only their next hop', async (t) => {
  // scripts/setup.sh installs both: a machine without them fails here rather than passing untested.
  if (!haveFrr) { t.fail('FRR (/usr/lib/frr/bgpd) or BIRD (/usr/sbin/bird) not installed: run scripts/setup.sh'); return; }
  t.teardown(() => { if (!t.passed) for (const d of describeNodes(nodes)) t.log(d); });
  const byName = new Map<Director, DuetNode>();
  for (const d of DIRECTORS) {
    startRealServer(d);
    const sock = join(dir, `bird-${d}.ctl`);
    writeFileSync(join(dir, `bird-${d}.conf`), birdConf(d));
    speakers.set(d, lab.spawn(d, ['/usr/sbin/bird', '-f', '-c', join(dir, `bird-${d}.conf`), '-s', sock, '-P', join(dir, `bird-${d}.pid`)], { stdio: 'ignore' }));
    const n = await startDuet(lab, d, duetConf(d, sock), { waitReady: false });
    nodes.push(n);
    byName.set(d, n);
  }
  const node = (d: Director): DuetNode => byName.get(d)!;
  for (const d of DIRECTORS) {
    await waitFor(async () => { const b = await bgpStatus(node(d)); return b.vips[0]?.announced && b.speaker.established === 1; },
      { timeoutMs: 15_000, intervalMs: 50, what: `${d}: VIP announced and its BGP session established` });
  }
  for (const d of DIRECTORS) {
    // Announced only once its check has a result: never on the engine's optimistic start.
    const logs = node(d).logs;
    const checkUp = logs.findIndex((l) => l.msg === 'check state changed' && l['to'] === 'up');
    const announced = logs.findIndex((l) => l.msg === 'VIP announced');
    t.true(checkUp >= 0 && announced > checkUp, `${d}: first check result (line ${checkUp}) before the first announce (line ${announced})`);
    // Its first decision: withdrawn for pending checks, or (if the check answered first) announced.
    const first = logs.find((l) => l.msg === 'VIP announced' || l.msg === 'VIP withdrawn');
    t.true(first?.['announced'] === true || first?.['reason'] === 'checks-pending', `${d}: first decision ${JSON.stringify(first)}`);
  }
  const up = performance.now();
  await waitHops(DIRECTORS, up, 15_000, 'all three announced');
  t.deepEqual(await nextHops(), want(DIRECTORS), 'ECMP: three next hops');
  const s1 = await cli(node('d1'), ['status']);
  t.regex(s1.stdout, new RegExp(`${VIP.replace(/\./g, '\\.')}\\s+ANNOUNCED\\s+\\S+\\s+healthy`));
  t.regex(s1.stdout, /bgp speaker \(table 100\): 1 session established; uplink Established/);
  const times: Record<string, number> = {};
  const bfd = await lab.exec('r', ['vtysh', '-N', PATHSPACE, '-c', 'show bfd peers'], { timeoutMs: 5000 }).catch((e: Error) => ({ stdout: e.message }));
  const detect = [...bfd.stdout.matchAll(/Detect-multiplier: (\d+)[\s\S]*?Receive interval: (\d+)ms/g)];
  t.log(`router BFD: ${detect.length} sessions; remote multiplier x receive interval: ${detect.map((m) => `${m[1]} x ${m[2]} ms`).join(', ')}`);

  // Maintenance on d1 withdraws d1 only; off brings it back.
  let t0 = performance.now();
  const m = await cli(node('d1'), ['maintenance', 'on']);
  t.is(m.code, 0, m.stderr);
  t.regex(m.stdout, new RegExp(`bgp: withdrawn ${VIP.replace(/\./g, '\\.')}`));
  times['maintenance on -> next hop gone'] = await waitHops(['d2', 'd3'], t0, 5000, 'd1 in maintenance');
  t.like((await bgpStatus(node('d1'))).vips[0], { announced: false, reason: 'maintenance' });
  t.like((await bgpStatus(node('d2'))).vips[0], { announced: true, reason: 'healthy' });
  const metrics = await scrape('d1');
  t.regex(metrics, new RegExp(`^duet_bgp_announced\\{vip="${VIP.replace(/\./g, '\\.')}"\\} 0$`, 'm'));
  t.regex(metrics, /^duet_bgp_reason\{vip="[^"]+",reason="maintenance"\} 1$/m);
  t.regex(metrics, /^duet_bgp_session_established\{session="uplink"\} 1$/m);
  // Announced, then withdrawn for maintenance: 1 change, or 2 if it started withdrawn for pending checks.
  t.regex(metrics, /^duet_bgp_changes_total\{vip="[^"]+"\} [12]$/m);
  // The Grafana dashboard's BGP panels (and the rest) read what a live director exports.
  t.deepEqual(missing(dashboardQueries(), [metrics]), []);
  t.is((await cli(node('d1'), ['maintenance', 'off'])).code, 0);
  await waitHops(DIRECTORS, performance.now(), 5000, 'd1 back from maintenance');

  // The operator's withdraw and announce on d2.
  t.regex((await cli(node('d2'), ['withdraw', VIP])).stdout, /withdrawn \(operator/);
  await waitHops(['d1', 'd3'], performance.now(), 5000, 'd2 withdrawn by the operator');
  t.regex((await cli(node('d2'), ['announce', VIP])).stdout, /announced \(healthy/);
  await waitHops(DIRECTORS, performance.now(), 5000, 'd2 announced again');

  // d2's real server stops: its check fails, quorum is lost, d2 alone withdraws (and says so in its events).
  const ev = spawn(process.execPath, [DUET_CLI, 'events', '--json', '-s', node('d2').socket], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => { ev.kill('SIGKILL'); });
  const events: Array<Record<string, unknown>> = [];
  ev.stdout.setEncoding('utf8').on('data', (x: string) => { for (const l of x.split('\n').filter(Boolean)) events.push(JSON.parse(l) as Record<string, unknown>); });
  await waitFor(() => events.some((e) => e['type'] === 'subscribed'), { timeoutMs: 15_000, what: 'd2 events attached' });
  t0 = performance.now();
  realServers.get('d2')!.kill('SIGKILL');
  times['real server stopped -> next hop gone'] = await waitHops(['d1', 'd3'], t0, 5000, 'd2 quorum lost');
  t.like((await bgpStatus(node('d2'))).vips[0], { announced: false, reason: 'quorum-lost', detail: 'no quorum: web' });
  t.like((await bgpStatus(node('d3'))).vips[0], { announced: true });
  await waitFor(() => events.some((e) => e['type'] === 'bgp'), { timeoutMs: 3000, what: 'a bgp event on d2' });
  t.like(events.find((e) => e['type'] === 'bgp'), { vip: VIP, announced: false, reason: 'quorum-lost' });
  ev.kill('SIGKILL');
  const lo = await lab.exec('d2', ['ip', '-j', 'addr', 'show', 'dev', 'lo']);
  t.true(lo.stdout.includes(`"${VIP}"`), 'withdrawn, the VIP is still accepted locally on d2');
  startRealServer('d2');
  await waitHops(DIRECTORS, performance.now(), 5000, 'd2 quorum regained');

  // SIGKILL of d3's duet and BIRD: the kernel closes the BGP session (and BFD stops).
  t0 = performance.now();
  node('d3').kill('SIGKILL');
  speakers.get('d3')!.kill('SIGKILL');
  times['SIGKILL duet+bird -> next hop gone'] = await waitHops(['d1', 'd2'], t0, 5000, 'd3 killed');

  // d1's link goes down: nothing can leave d1, so only BFD (100 ms x 5) tells the router. BFD
  // starts slow (1 s) and speeds up once both ends agree: wait until d1's session is at 100 ms.
  await waitFor(async () => /Remote timers:[\s\S]*?Transmission interval: 100ms/.test((await lab.exec('r', ['vtysh', '-N', PATHSPACE, '-c', `show bfd peer ${ADDR.d1}`], { timeoutMs: 5000 })).stdout),
    { timeoutMs: 10_000, intervalMs: 100, what: 'the router\'s BFD session with d1 at 100 ms' });
  t0 = performance.now();
  await lab.exec('d1', ['ip', 'link', 'set', 'dev', lab.host('d1').ifname, 'down']);
  times['link down -> next hop gone (BFD)'] = await waitHops(['d2'], t0, 9000, 'd1 link down');
  for (const [k, v] of Object.entries(times)) t.log(`${k}: ${v} ms`);
  t.true(times['link down -> next hop gone (BFD)']! < BFD_DETECT_MS + 700, `BFD removed the next hop in ${times['link down -> next hop gone (BFD)']} ms (detection ${BFD_DETECT_MS} ms; the hold time is 9 s)`);
  await waitFor(async () => (await bgpStatus(node('d1'))).vips[0]?.reason === 'interface-down', { timeoutMs: 3000, what: 'd1 withdrawn for its link' });
});
