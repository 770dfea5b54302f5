// `npm run demo`: two duet directors, a client and two real servers in network namespaces on
// this machine. Shows who is master, kills it (host failure: SIGKILL + link down), shows the VIP
// moving and the gap a client probing every 10 ms saw, brings the old master back (preempt),
// then removes everything, also on Ctrl-C, SIGTERM or an error. Then the director path
// (lab/demo-ipvs.ts): client -> VIP -> IPVS (DR) -> rs1/rs2 and a failover, on this host when
// its kernel has IPVS, else in a throw-away VM on Debian's kernel (test/helpers/vm.ts).
import {
  labWithCleanup, startDuet, pairConfig, startAgent, onCleanup, runMain, watchAddresses, ipShell,
  duetCli, setLink, waitLinkUp, hasAddr, waitFor, sleep, nowEpoch, Prober, listNamespaces, cleanupAll, AGENT,
  type Lab, type DuetNode,
} from './lab.js';
import { scriptArgs } from './args.js';
import { hostHasIpvs, runInVmPath, runOnHostPath, sections, timing, counts, d2TransitionMs, type PathRun } from './demo-ipvs.js';

scriptArgs('demo', `usage: npm run demo
  Two duet directors, a client and two real servers in network namespaces: who is master, a
  host failure and the VIP moving (with the gap a client saw), the old master preempting back;
  then the director path (client -> VIP -> IPVS -> real servers, and a failover), in a VM when
  this kernel has no IPVS. Everything is removed at the end, also on Ctrl-C. No options.`, {});

const VIP = '192.0.2.100';
const HTTP_PORT = 80;
const t0 = performance.now();
const stamp = (): string => `[${((performance.now() - t0) / 1000).toFixed(1).padStart(4)}s]`;
const say = (s = ''): void => console.log(s === '' ? '' : `${stamp()} ${s}`);
const out = (s: string, indent = '         '): void => console.log(s.split('\n').map((l) => `${indent}${l}`).join('\n'));
const section = (s: string): void => { console.log(''); console.log(`=== ${s} ${'='.repeat(Math.max(3, 74 - s.length))}`); };

const HOSTS = [
  { name: 'd1', addr: '192.0.2.11', role: 'director, VRRP priority 150' },
  { name: 'd2', addr: '192.0.2.12', role: 'director, VRRP priority 100' },
  { name: 'client', addr: '192.0.2.50', role: 'client' },
  { name: 'rs1', addr: '192.0.2.21', role: 'real server (HTTP, answers "rs1")' },
  { name: 'rs2', addr: '192.0.2.22', role: 'real server (HTTP, answers "rs2")' },
];

async function ipBrief(lab: Lab, host: string): Promise<string> {
  const { stdout } = await lab.exec(host, ['ip', '-br', 'addr', 'show', 'dev', lab.host(host).ifname]);
  const line = stdout.trim().replace(/\s+/g, ' ');
  const mark = line.includes(`${VIP}/`) ? `   <-- holds the VIP ${VIP}` : '';
  return `${host.padEnd(3)} ${line}${mark}`;
}

async function showAddrs(lab: Lab, note = ''): Promise<void> {
  say(`ip -br addr in each director namespace${note}:`);
  for (const h of ['d1', 'd2']) out(`$ ${await ipBrief(lab, h)}`);
}

async function showStatus(lab: Lab, nodes: Partial<Record<'d1' | 'd2', DuetNode>>): Promise<void> {
  for (const h of ['d1', 'd2'] as const) {
    const n = nodes[h];
    if (!n) continue;
    say(`duet status (run in ${h}'s namespace):`);
    out(`$ duet status -s ${n.socket}`);
    out(await duetCli(lab, h, ['status', '-s', n.socket]));
  }
}

async function httpGet(lab: Lab, url: string): Promise<string> {
  const { stdout } = await lab.exec('client', [process.execPath, AGENT, 'http-get', url], { timeoutMs: 5000 });
  return stdout.trim();
}

async function startNode(lab: Lab, host: 'd1' | 'd2', priority: number): Promise<DuetNode> {
  const n = await startDuet(lab, host, pairConfig(host, { ifname: lab.host(host).ifname, priority, version: 3, advertInt: 0.1, preempt: true }));
  onCleanup(() => n.cleanup());
  return n;
}

const fmtT = (ms: number): string => `${ms.toFixed(0)} ms`;

async function main(): Promise<number> {
  console.log('duet demo: a VRRP director pair in network namespaces on this machine');
  console.log('(needs root; removes every namespace it makes when done, interrupted or failed)');

  section('1. The lab');
  say('Creating namespaces demo-br (a bridge) and one per host, veth into the bridge, 192.0.2.0/24:');
  for (const h of HOSTS) out(`demo-${h.name.padEnd(7)} ${h.addr.padEnd(11)} ${h.role}`);
  const lab = await labWithCleanup('demo', HOSTS.map(({ name, addr }) => ({ name, addr })));
  say('Lab up. Starting HTTP servers that answer their own name on port 80: rs1, rs2, and d1, d2.');
  await Promise.all(['rs1', 'rs2', 'd1', 'd2'].map((h) => startAgent(lab, h, ['http-name', h, String(HTTP_PORT)])));

  section('2. Two duet directors elect a master');
  say(`Starting duet in d1 (priority 150) and d2 (priority 100): VIP ${VIP}/24, VRRPv3, vrid 51, advert 100 ms, preempt.`);
  const nodes: Partial<Record<'d1' | 'd2', DuetNode>> = {};
  [nodes.d1, nodes.d2] = await Promise.all([startNode(lab, 'd1', 150), startNode(lab, 'd2', 100)]);
  await Promise.all([nodes.d1.waitState('VI_1', 'master', 10_000), nodes.d2.waitState('VI_1', 'backup', 10_000)]);
  await waitFor(() => hasAddr(lab, 'd1', VIP), { timeoutMs: 3000, what: 'VIP on d1' });
  say('Election done: d1 is MASTER (higher priority), d2 is BACKUP.');
  await showStatus(lab, nodes);
  await showAddrs(lab);

  section('3. The client');
  say('The client reaches the real servers directly:');
  for (const rs of ['rs1', 'rs2']) out(`$ GET http://${lab.host(rs).addr}/  ->  "${await httpGet(lab, `http://${lab.host(rs).addr}/`)}"`);
  say(`And the VIP, http://${VIP}/ :`);
  out(`$ GET http://${VIP}/  ->  "${await httpGet(lab, `http://${VIP}/`)}"`);
  out('NOTE: here the VIP does not forward to rs1/rs2 (sections 3-6 show VRRP alone; section 7 shows IPVS):');
  out('the director holding the VIP answers HTTP on it itself, with its own name (d1 or d2).');
  say('Starting a prober in the client namespace: GET http://192.0.2.100/ every 10 ms (new TCP connection each).');
  const prober = new Prober(await startAgent(lab, 'client', ['http-probe', `http://${VIP}/`, '10']));
  if (!(await prober.waitFlowing({ since: nowEpoch(), name: 'd1', forMs: 300, timeoutMs: 5000 }))) throw new Error('the prober gets no answers from d1');
  const c0 = await prober.last();
  say(`Prober running: ${c0.replies} answers so far, all from "${c0.name}".`);

  section('4. The master fails: SIGKILL of duet on d1 + d1 link down');
  const watch2 = await watchAddresses(lab, 'd2');
  const d1Shell = ipShell(lab, 'd1');
  await sleep(250 + Math.random() * 100);
  const tKill = nowEpoch();
  d1Shell.send(`link set ${lab.host('d1').ifname} down`);
  nodes.d1.kill('SIGKILL');
  say('d1 is down (duet killed with SIGKILL, link down: no priority-0 goodbye, no more adverts).');
  const added = await watch2.added(VIP, tKill, 5000);
  if (added === undefined) throw new Error('d2 never added the VIP');
  await nodes.d2.waitState('VI_1', 'master', 3000);
  const st2 = await nodes.d2.instance('VI_1');
  say(`d2 added the VIP ${fmtT(added - tKill)} after the kill (seen by 'ip -ts monitor address' in d2): d2 is MASTER, reason "${st2?.lastReason}".`);
  out('Expected by VRRP: Master_Down_Interval = 3 x 100 ms + Skew_Time ((256-100)/256 x 100 ms = 61 ms) = 361 ms');
  out('after d1\'s last advert, i.e. 261-361 ms after the kill depending on when it falls between adverts.');
  await showAddrs(lab, ' (d1 is dead: its link is down and its stale VIP is unreachable)');
  await prober.waitFlowing({ since: added, name: 'd2', forMs: 300, timeoutMs: 5000 });
  const g = await prober.gap(tKill - 1000, nowEpoch());
  const cnt = await prober.counts(tKill - 2000, nowEpoch());
  say(`Client view: longest gap between answers: ${fmtT(g.gapMs)} (last answer from "${g.before}", then "${g.after}").`);
  out(`answers from 2 s before the kill until now: ${Object.entries(cnt).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  out('(requests sent while d1 was unreachable wait for a TCP SYN retransmit; the gratuitous ARP from');
  out(' d2 moved the client\'s ARP entry for the VIP to d2 as soon as d2 became master.)');
  await showStatus(lab, { d2: nodes.d2 });

  section('5. d1 comes back and preempts (priority 150 > 100)');
  await nodes.d1.exited();
  nodes.d1.cleanup();
  // As a rebooted director would: duet starts first (and removes the VIP its crashed predecessor
  // left on the interface), then the link comes up, so d1 never answers for the VIP unasked.
  say('starting duet again on d1 with its link still down (it removes the VIP its crashed predecessor left behind), then link up.');
  const watch1 = await watchAddresses(lab, 'd1');
  const tStart = nowEpoch();
  nodes.d1 = await startNode(lab, 'd1', 150);
  await waitFor(async () => !(await hasAddr(lab, 'd1', VIP)), { timeoutMs: 5000, what: 'stale VIP gone from d1' });
  await setLink(lab, 'd1', true);
  await waitLinkUp(lab, 'd1');
  await Promise.all([nodes.d1.waitState('VI_1', 'master', 10_000), nodes.d2.waitState('VI_1', 'backup', 10_000)]);
  const back = await watch1.added(VIP, tStart, 3000);
  const st1 = await nodes.d1.instance('VI_1');
  say(`d1 is MASTER again (reason "${st1?.lastReason}")${back !== undefined ? `, VIP added ${fmtT(back - tStart)} after its start` : ''}; d2 is BACKUP.`);
  await showAddrs(lab);
  await prober.waitFlowing({ since: nowEpoch(), name: 'd1', forMs: 300, timeoutMs: 5000 });
  const gp = await prober.gap(tStart, nowEpoch());
  const cp = await prober.counts(tStart, nowEpoch());
  say(`Client view of the preempt: longest gap between answers ${fmtT(gp.gapMs)}; answers since d1's restart: ${Object.entries(cp).map(([k, v]) => `${k}: ${v}`).join(', ')}.`);
  out('(a planned move: d2 steps down on d1\'s first advert, d1 sends gratuitous ARP; little or no gap.)');
  await showStatus(lab, nodes);

  section('6. Cleaning up');
  say('Stopping duet on d1 and d2 (SIGTERM: the master sends priority 0 and removes the VIP) ...');
  for (const n of [nodes.d1, nodes.d2]) n.kill('SIGTERM');
  const codes = await Promise.all([nodes.d1.exited(), nodes.d2.exited()]);
  say(`duet exited with ${codes.join(', ')}. Removing servers, prober and namespaces demo-* ...`);
  return 0;
}

const fmtCounts = (c: Record<string, number>): string => Object.entries(c).sort().map(([k, v]) => `${k}: ${v}`).join(', ') || '(none)';

/** Part 2: client -> VIP -> IPVS (DR) -> rs1/rs2 through a duet pair, and a failover. */
async function directorPath(): Promise<number> {
  section('7. The director path: client -> VIP -> IPVS -> real servers, and a failover');
  const onHost = await hostHasIpvs();
  let r: PathRun;
  if (onHost) {
    say('This kernel has IPVS: running the director path here, in namespaces demo-ipvs-*.');
    say('Running it: two duet directors (DR, wrr 3:1 to rs1/rs2), 20 requests, kill d1, 20 more (about 30 s) ...');
    const job = runOnHostPath(90_000);
    const unreg = onCleanup(async () => { job.kill(); await job.done; });
    r = await job.done;
    unreg();
  } else {
    say('this kernel has no IPVS: running the director path in a VM (Debian\'s kernel under qemu).');
    say('Same lab inside the VM: d1, d2 (duet, VRRP + a DR virtual server, wrr 3:1), client, rs1, rs2 (busybox httpd).');
    say('The VM returns its output at the end: this takes about a minute ...');
    try {
      r = await runInVmPath(90_000);
    } catch (e) {
      say(`The VM did not run the director path: ${(e as Error).message}`);
      return 1;
    }
  }
  const where = r.where === 'vm' ? 'in the VM' : 'on this host';
  const S = sections(r.stdout);
  const get = (n: string): string => (S.get(n) ?? '').trimEnd();
  say(`Director path done ${where} in ${(r.totalMs / 1000).toFixed(1)} s${r.bootMs !== undefined && r.bootMs >= 0 ? ` (VM boot ${(r.bootMs / 1000).toFixed(1)} s)` : ''}, exit ${r.code}. What happened ${where} (times since the job started):`);
  const T = (n: string): string => { const v = timing(r.stdout, n); return v === undefined ? '?' : `${(v / 1000).toFixed(1)} s`; };
  if (r.code !== 0 || !S.has('end')) {
    say(`The director path FAILED ${where}; its output:`);
    out(r.stdout.trimEnd() || '(no output)');
    return 1;
  }
  out(`[${T('setup-done').padStart(6)}] namespaces d1 192.0.2.11, d2 192.0.2.12, client 192.0.2.50, rs1 192.0.2.21, rs2 192.0.2.22 on one bridge;`);
  out(`          rs1 and rs2 hold the VIP on lo (DR: arp_ignore=1, arp_announce=2) and serve their name with busybox httpd.`);
  out(`[${T('ipvs-programmed').padStart(6)}] duet started on d1 (priority 150) and d2 (priority 100); both programmed IPVS: TCP ${'192.0.2.100'}:80 wrr -> rs1 (weight 3), rs2 (weight 1), DR.`);
  out(`[${T('d1-master').padStart(6)}] d1 is MASTER and holds the VIP, d2 is BACKUP. ipvsadm -Ln in d1:`);
  out(get('start').split('\n').filter((l) => !/^T /.test(l)).join('\n'), '            ');
  const before = counts(get('http-before'));
  out(`The client makes 20 requests to http://192.0.2.100/ (one connection each); who answered:`);
  out(get('http-before').split('\n').filter((l) => l.startsWith('sequence:'))[0] ?? '', '            ');
  out(`counts: ${fmtCounts(before)}  (wrr 3:1 -> 15/5: d1's IPVS sends the SYN to a real server, which answers the client directly)`, '            ');
  const seen = timing(r.stdout, 'd2-vip-seen-ms');
  const trans = d2TransitionMs(r.stdout);
  out(`The master fails: link down on d1 and SIGKILL of its duet (no goodbye).`);
  out(`d2 became MASTER ${trans !== undefined ? `${trans} ms after the kill (its log)` : '(time not in its log)'}; the VIP was seen on d2 ${seen ?? '?'} ms after the kill (polling ip addr, slow in the VM).`);
  if (r.where === 'vm') out('(the VM is software-emulated: timings there are slower than on hardware; section 4 has this host\'s numbers.)');
  const after = counts(get('http-after'));
  out(`The client makes 20 more requests, now through d2:`);
  out(get('http-after').split('\n').filter((l) => l.startsWith('sequence:'))[0] ?? '', '            ');
  out(`counts: ${fmtCounts(after)}`, '            ');
  out(`ipvsadm -Ln in d2 (the new master; InActConn: the 20 finished connections it forwarded):`);
  out(get('table-d2'), '            ');
  const ok = (before.rs1 ?? 0) + (before.rs2 ?? 0) === 20 && (after.rs1 ?? 0) + (after.rs2 ?? 0) === 20;
  out(`d2 stopped with SIGTERM (${(/d2-exit=(\d+)/.exec(get('stop')) ?? [])[0] ?? '?'}); ${r.where === 'vm' ? 'the VM is gone with everything in it' : 'namespaces demo-ipvs-* removed'}.`);
  if (!ok) { say('WARNING: not every request was answered by a real server.'); return 1; }
  return 0;
}

runMain(async () => {
  let code = await main();
  await cleanupAll();
  const left = (await listNamespaces()).filter((n) => n.startsWith('demo-'));
  say(left.length === 0 ? 'Everything removed (no demo-* namespaces left).' : `WARNING: namespaces left: ${left.join(' ')}`);
  if (left.length !== 0) code = 1;
  if (code === 0) code = await directorPath();
  const left2 = (await listNamespaces()).filter((n) => n.startsWith('demo-'));
  if (left2.length !== 0) { say(`WARNING: namespaces left: ${left2.join(' ')}`); code = 1; }
  say(`Demo done in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
  return code;
}, { deadlineMs: 150_000, name: 'demo' });
