// The native TCP connect core (native/tcp_core.c, used by runCheck for tcp) on a real link between
// namespaces (lab prefix ctn1): a listener answers over IPv4 and IPv6, a closed port refuses, an
// address on the link where nobody is gets no ARP answer (a blackhole: "timeout" within the
// deadline, the kernel's "ehostunreach" once ARP gives up), an address without a route fails at
// once; many at the same time; nothing is left in the core after.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { createLab, type Lab } from '../../lab/netns.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/tcp-check.js', import.meta.url));
let lab: Lab;
let listener: ChildProcess | undefined;

test.before(async () => {
  lab = await createLab('ctn1', [
    { name: 'dir', addr: '192.0.2.10', addr6: '2001:db8::10' },
    { name: 'rs', addr: '192.0.2.21', addr6: '2001:db8::21' },
  ]);
  listener = lab.spawn('rs', [process.execPath, '-e',
    "require('net').createServer((s) => s.on('error', () => {})).listen({ port: 8080, host: '::' }, () => console.log('ready'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    listener!.stdout!.once('data', () => resolve());
    listener!.once('exit', (c) => reject(new Error(`listener exited ${c}`)));
  });
});
test.after.always(async () => {
  listener?.kill('SIGKILL');
  await lab?.destroy();
});

type Row = [string, number, boolean, string, number];

async function check(timeoutMs: number, ...targets: [string, number][]): Promise<{ kind: unknown; rows: Map<string, Row>; all: Row[]; inflight: unknown }> {
  const argv = [process.execPath, FIXTURE, ...targets.flatMap(([a, p]) => [a, String(p)])];
  const { stdout } = await lab.exec('dir', ['env', `TCP_TIMEOUT_MS=${timeoutMs}`, ...argv], { timeoutMs: timeoutMs + 15_000 });
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
  const all = lines.slice(1, -1) as Row[];
  const rows = new Map<string, Row>();
  for (const r of all) rows.set(`${r[0]} ${r[1]}`, r);
  return { kind: lines[0], rows, all, inflight: lines.at(-1) };
}

test.serial('up over IPv4 and IPv6, refused, no route: each its verdict, on the native core', async (t) => {
  const r = await check(2000, ['192.0.2.21', 8080], ['2001:db8::21', 8080], ['192.0.2.21', 8081], ['2001:db8::21', 8081], ['198.51.100.1', 8080]);
  t.deepEqual(r.kind, { kind: 'native' });
  const v = (k: string): unknown => r.rows.get(k)?.slice(2, 4);
  t.deepEqual(v('192.0.2.21 8080'), [true, 'connected']);
  t.deepEqual(v('2001:db8::21 8080'), [true, 'connected']);
  t.deepEqual(v('192.0.2.21 8081'), [false, 'refused']);
  t.deepEqual(v('2001:db8::21 8081'), [false, 'refused']);
  t.deepEqual(v('198.51.100.1 8080'), [false, 'enetunreach']);
  t.true(r.rows.get('198.51.100.1 8080')![4] < 100);
  t.deepEqual(r.inflight, { inflight: 0 });
});

test.serial('nobody at the address (no ARP answer): "timeout" at the deadline, while the others connect', async (t) => {
  const targets: [string, number][] = [['192.0.2.99', 8080], ...Array.from({ length: 200 }, (): [string, number] => ['192.0.2.21', 8080])];
  const r = await check(500, ...targets);
  t.deepEqual(r.rows.get('192.0.2.99 8080')?.slice(2, 4), [false, 'timeout']);
  const ms = r.rows.get('192.0.2.99 8080')![4];
  t.true(ms >= 500 && ms < 3000, `after ${ms} ms`);
  t.is(r.all.filter((x) => x[0] === '192.0.2.21' && x[3] === 'connected').length, 200);
  t.deepEqual(r.inflight, { inflight: 0 });
});

test.serial('nobody at the address, a long deadline: the kernel gives up on ARP ("ehostunreach")', async (t) => {
  const r = await check(10_000, ['192.0.2.98', 8080]);
  const row = r.rows.get('192.0.2.98 8080')!;
  t.deepEqual(row.slice(2, 4), [false, 'ehostunreach']);
  t.true(row[4] < 9000, `after ${row[4]} ms`);
});
