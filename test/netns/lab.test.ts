// The lab helper itself: stale cleanup, exec/spawn, destroy (twice), waitFor.
import test from 'ava';
import { createLab, listNetns, run, waitFor } from '../../lab/netns.js';

const root = process.getuid?.() === 0;
// Tests share the lab and its agents: one at a time, whatever the command line says.
const rootTest = root ? test.serial : test.skip;

rootTest('createLab removes leftovers, builds a working L2 segment; destroy is thorough and idempotent', async (t) => {
  await run(['ip', 'netns', 'add', 'dt5-stale']);
  const lab = await createLab('dt5', [
    { name: 'a', addr: '192.0.2.11', addr6: '2001:db8::11' },
    { name: 'b', addr: '192.0.2.12/24' },
  ]);
  t.teardown(() => lab.destroy());
  const names = await listNetns();
  t.false(names.includes('dt5-stale'), 'stale namespace removed');
  t.true(['dt5-br', 'dt5-a', 'dt5-b'].every((n) => names.includes(n)));

  const a = lab.host('a');
  t.like(a, { ns: 'dt5-a', ifname: 'dt50', addr: '192.0.2.11', prefixLen: 24, addr6: '2001:db8::11' });
  const { stdout } = await lab.exec('a', ['ip', '-j', 'addr', 'show', 'dev', a.ifname]);
  const info = JSON.parse(stdout)[0] as { address: string; operstate: string; addr_info: { local: string }[] };
  t.is(info.address, a.mac);
  t.is(info.operstate, 'UP');
  t.deepEqual(info.addr_info.map((x) => x.local).filter((x) => !x.startsWith('fe80')), ['192.0.2.11', '2001:db8::11']);

  // L2 works: b resolves a's MAC (a UDP datagram triggers ARP; no ping needed)
  await lab.exec('b', [process.execPath, '-e', "require('dgram').createSocket('udp4').send('x', 9, '192.0.2.11', (e, n) => process.exit(e ? 1 : 0))"]);
  const mac = await waitFor(async () => {
    const { stdout: o } = await lab.exec('b', ['ip', '-j', 'neigh', 'show', '192.0.2.11']);
    return (JSON.parse(o) as { lladdr?: string }[])[0]?.lladdr;
  }, { timeoutMs: 2000, what: 'ARP entry' });
  t.is(mac, a.mac);

  // a spawned process is stopped by destroy
  const child = lab.spawn('a', ['sleep', '60'], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  await lab.destroy();
  await exited;
  await lab.destroy();
  const after = await listNetns();
  t.false(after.some((n) => n.startsWith('dt5-')));
});

test('waitFor returns the first truthy value and times out by the clock', async (t) => {
  let n = 0;
  t.is(await waitFor(() => (++n >= 3 ? n : 0), { timeoutMs: 1000, intervalMs: 1 }), 3);
  const t0 = Date.now();
  const e = await t.throwsAsync(waitFor(() => false, { timeoutMs: 100, intervalMs: 30, what: 'never' }));
  t.regex(e!.message, /timed out after 100 ms waiting for never/);
  const took = Date.now() - t0;
  t.true(took >= 95 && took < 400, `took ${took} ms`);
  const e2 = await t.throwsAsync(waitFor(() => { throw new Error('boom'); }, { timeoutMs: 30 }));
  t.regex(e2!.message, /last: boom/);
});

test('createLab rejects bad prefixes before touching the system', async (t) => {
  await t.throwsAsync(createLab('Bad-prefix', []), { message: /prefix/ });
});
