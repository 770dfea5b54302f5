// The Prometheus endpoint and `duet events` on a running pair in namespaces: the scrape shows
// VRRP state, transitions by reason, adverts, check health and latency, and the reconciler's
// failures (this host kernel has no IPVS, so every reconcile fails and is counted); the event
// stream shows a manual failover as it happens. A reload that turns metrics off closes the port.
// `listen: ':PORT'` (no host) listens on loopback only: the peer cannot scrape it.
import { spawn } from 'node:child_process';
import test from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, DUET_CLI, type DuetNode } from '../../lab/duet-node.js';

let lab: Lab;
const nodes: DuetNode[] = [];

test.before(async () => {
  lab = await createLab('me', [{ name: 'm1', addr: '192.0.2.11' }, { name: 'm2', addr: '192.0.2.12' }]);
});
test.after.always(async () => {
  for (const n of nodes.splice(0)) n.cleanup();
  await lab?.destroy();
});

const SERVICES = `metrics: { listen: ':9469' }
check_worker: { max_in_flight: 3 }
virtual_servers:
  - name: web
    address: 192.0.2.100
    port: 80
    lb_kind: dr
    checks: [{ type: tcp, interval: 0.2, timeout: 0.1, rise: 1, fall: 1 }]
    real_servers:
      - { address: 192.0.2.12, port: 80 }
`;

async function scrape(host: string, path = '/metrics', addr = '127.0.0.1'): Promise<string> {
  const js = `fetch('http://${addr}:9469${path}').then(async (r) => { process.stdout.write(r.status + '\\n' + await r.text()); }, (e) => { process.stdout.write('ERR ' + e.cause?.code); })`;
  return (await lab.exec(host, [process.execPath, '-e', js])).stdout;
}

const value = (text: string, re: RegExp): number | undefined => {
  const m = new RegExp(`^${re.source} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

test.serial('metrics and events of a live pair', async (t) => {
  // A real server for the TCP check: a listener in m2.
  const rs = lab.spawn('m2', [process.execPath, '-e', "require('net').createServer((c) => c.on('error', () => {}).end()).listen(80, '192.0.2.12')"], { stdio: 'ignore' });
  t.teardown(() => { rs.kill('SIGKILL'); });
  const m1 = await startDuet(lab, 'm1', pairConfig('m1', { ifname: lab.host('m1').ifname, priority: 150, extra: SERVICES }));
  nodes.push(m1);
  const m2 = await startDuet(lab, 'm2', pairConfig('m2', { ifname: lab.host('m2').ifname, priority: 100 }));
  nodes.push(m2);
  await m1.waitState('VI_1', 'master');
  await m2.waitState('VI_1', 'backup');

  const text = await waitFor(async () => {
    const s = await scrape('m1');
    return /duet_check_up\{service="web",server="192\.0\.2\.12:80",check="tcp#0"\} 1/.test(s) ? s : undefined;
  }, { timeoutMs: 5000, what: 'a scrape with the check up' });
  t.regex(text, /^200\n/);
  t.is(value(text, /duet_vrrp_state\{vrrp_instance="VI_1",state="master"\}/), 1);
  t.is(value(text, /duet_vrrp_state\{vrrp_instance="VI_1",state="backup"\}/), 0);
  t.is(value(text, /duet_vrrp_transitions_total\{vrrp_instance="VI_1",from="backup",to="master",reason="master-down-timer"\}/), 1);
  t.true((value(text, /duet_vrrp_adverts_sent_total\{vrrp_instance="VI_1"\}/) ?? 0) > 0);
  t.is(value(text, /duet_vrrp_priority\{vrrp_instance="VI_1"\}/), 150);
  t.true((value(text, /duet_check_latency_seconds_count\{service="tcp:192\.0\.2\.100:80",type="tcp"\}/) ?? 0) > 0);
  t.true((value(text, /duet_check_results_total\{service="web",server="192\.0\.2\.12:80",check="tcp#0",result="ok"\}/) ?? 0) > 0);
  t.is(value(text, /duet_real_server_weight\{service="web",server="192\.0\.2\.12:80",kind="effective"\}/), 1);
  t.true((value(text, /duet_reconcile_errors_total\{kind="run"\}/) ?? 0) >= 1, 'no IPVS on this kernel: the failed reconcile is counted');
  t.regex(text, /^duet_process_resident_memory_bytes \d+/m);
  t.is(value(text, /duet_check_queued/), 0);
  // check_worker reaches the worker: its heartbeat reports the configured bound.
  const late = await waitFor(async () => (await m1.status()).checkWorker?.late, { timeoutMs: 5000, what: 'a heartbeat' });
  t.like(late, { maxInFlight: 3, queued: 0 });
  t.regex(await scrape('m1', '/other'), /^404\n/);
  // ':9469' is loopback only: refused on m1's own address, from m1 and from the peer.
  t.regex(await scrape('m1', '/metrics', '192.0.2.11'), /^ERR ECONNREFUSED/);
  t.regex(await scrape('m2', '/metrics', '192.0.2.11'), /^ERR ECONNREFUSED/);
  t.true(m1.logs.some((l) => l.msg === 'metrics endpoint listening' && l['listen'] === '127.0.0.1:9469'));

  // The event stream sees a manual failover: the operator action, then our transition.
  const ev = spawn(process.execPath, [DUET_CLI, 'events', '--json', '-s', m1.socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { ev.kill('SIGKILL'); });
  const lines: Array<Record<string, unknown>> = [];
  ev.stdout.setEncoding('utf8').on('data', (d: string) => { for (const l of d.split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>); });
  // The stream's first line says it is attached: from then on no event is missed.
  await waitFor(() => lines.some((l) => l['type'] === 'subscribed'), { timeoutMs: 15_000, intervalMs: 20, what: 'duet events attached' });
  const fo = spawn(process.execPath, [DUET_CLI, 'failover', '-s', m1.socket], { stdio: 'ignore' });
  await new Promise((r) => fo.once('exit', r));
  await waitFor(() => lines.some((l) => l['type'] === 'transition' && l['to'] === 'backup'), { timeoutMs: 3000, what: 'transition event' });
  t.like(lines.find((l) => l['type'] === 'operator'), { action: 'failover', instance: 'VI_1' });
  t.like(lines.find((l) => l['type'] === 'transition'), { instance: 'VI_1', from: 'master', to: 'backup', reason: 'higher-priority-advert', priority: 1 });
  const after = await scrape('m1');
  t.is(value(after, /duet_operator_override\{vrrp_instance="VI_1",mode="failover"\}/), 1);
  t.is(value(after, /duet_vrrp_transitions_total\{vrrp_instance="VI_1",from="master",to="backup",reason="higher-priority-advert"\}/), 1);

  // A reload without `metrics` closes the endpoint.
  const { writeFileSync } = await import('node:fs');
  writeFileSync(m1.configFile, pairConfig('m1', { ifname: lab.host('m1').ifname, priority: 150 }));
  const rl = spawn(process.execPath, [DUET_CLI, 'reload', '-s', m1.socket], { stdio: 'ignore' });
  await new Promise((r) => rl.once('exit', r));
  t.regex(await scrape('m1'), /^ERR ECONNREFUSED/);
});
