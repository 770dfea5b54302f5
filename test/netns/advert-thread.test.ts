// The advert thread (native/advert_pacer.c through RawTransport.openPacer) against the real
// kernel: two hosts on a bridge, the pacer in an agent on one, a raw VRRP socket on the other.
import test from 'ava';
import { createLab, type Lab } from '../../lab/netns.js';
import { startAgent, type Agent, type AgentEvent } from '../helpers/agent.js';

const root = process.getuid?.() === 0;
const rootTest = root ? test.serial : test.skip;

// keepalived v3 advert, vrid 51, prio 150, 10 cs, VIP 192.0.2.100 (checksum for src .11)
const ADVERT = '31339601000ad3c1c0000264';
const GROUP = '224.0.0.18';

let lab: Lab;
let A: Agent;
let B: Agent;

const heard = (e: AgentEvent): boolean => e.event === 'message' && e.hex === ADVERT;
const count = (x: Agent): number => x.events.filter(heard).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
interface Stats { sent: number; errors: number; lapses: number; lastError?: string }

if (root) {
  test.before(async () => {
    lab = await createLab('at1', [
      { name: 'a', addr: '192.0.2.11' },
      { name: 'b', addr: '192.0.2.12' },
    ]);
    [A, B] = await Promise.all([startAgent(lab, 'a'), startAgent(lab, 'b')]);
    await Promise.all([
      A.call('raw.open', { name: 't', ifname: lab.host('a').ifname, multicast: true }),
      B.call('raw.open', { name: 't', ifname: lab.host('b').ifname, multicast: true }),
    ]);
  });
  test.after.always(async () => {
    await Promise.all([A?.stop(), B?.stop()]);
    await lab?.destroy();
  });
}

rootTest('adverts keep going out, framed as the transport frames them, while the event loop is held', async (t) => {
  await A.call('pacer.open', { name: 't', leaseMs: 2000 });
  const before = count(B);
  await A.call('pacer.run', { name: 't', hex: ADVERT, dsts: [GROUP], intervalMs: 20 });
  const m = await B.waitEvent((e) => heard(e) && B.events.filter(heard).length > before, 1000, 'the first advert');
  t.deepEqual(m.rinfo, { address: '192.0.2.11', family: 'IPv4', dst: GROUP, ifname: lab.host('b').ifname, ttl: 255 });
  const r = await A.call<{ sentDuring: number }>('pacer.block', { name: 't', ms: 400 });
  // 400 ms at 20 ms: about 20; a loaded machine may lose a few to scheduling, never most of them.
  t.true(r.sentDuring >= 10 && r.sentDuring <= 22, `sent while held: ${r.sentDuring}`);
  const s = await A.call<Stats>('pacer.stop', { name: 't' });
  t.is(s.errors, 0);
  await sleep(100);
  t.is(count(B) - before, s.sent, 'the peer heard every one of them, and nothing after stop()');
  t.false(A.events.some(heard), 'the sender does not hear its own adverts (IP_MULTICAST_LOOP 0)');
  const after = await A.call<Stats>('pacer.stats', { name: 't' });
  t.is(after.sent, s.sent, 'stop() stops');
});

rootTest('a lapsed lease stops the adverts (a stuck loop gives mastership up) and feed() resumes them', async (t) => {
  await A.call('pacer.open', { name: 't', leaseMs: 100 });
  await A.call('pacer.run', { name: 't', hex: ADVERT, dsts: [GROUP], intervalMs: 10 });
  const r = await A.call<{ sentDuring: number; lapsesDuring: number }>('pacer.block', { name: 't', ms: 500 });
  // The lease covers 100 ms (ten intervals): then nothing until the loop is back.
  t.true(r.sentDuring >= 3 && r.sentDuring <= 12, `sent while held: ${r.sentDuring}`);
  t.is(r.lapsesDuring, 1);
  const a = await A.call<Stats>('pacer.stats', { name: 't' });
  await sleep(100);
  t.is((await A.call<Stats>('pacer.stats', { name: 't' })).sent, a.sent, 'silent after the lapse');
  await A.call('pacer.feed', { name: 't' });
  await sleep(50);
  const b = await A.call<Stats>('pacer.stats', { name: 't' });
  t.true(b.sent > a.sent, 'sending again after feed()');
  await A.call('pacer.stop', { name: 't' });
});

rootTest('unicast peers: one packet per peer per interval', async (t) => {
  await A.call('pacer.open', { name: 't', leaseMs: 1000 });
  const before = B.events.filter((e) => heard(e) && (e.rinfo as { dst: string }).dst === '192.0.2.12').length;
  await A.call('pacer.run', { name: 't', hex: ADVERT, dsts: ['192.0.2.12', '192.0.2.99'], intervalMs: 25 });
  await sleep(200);
  const s = await A.call<Stats>('pacer.stop', { name: 't' });
  await sleep(50);
  const got = B.events.filter((e) => heard(e) && (e.rinfo as { dst: string }).dst === '192.0.2.12').length - before;
  t.true(s.sent >= 8 && s.sent % 2 === 0, `sent ${s.sent}: pairs`);
  t.is(got, s.sent / 2, 'the peer got its half');
});

rootTest('a send that fails: run() throws with the errno and paces nothing; errors while pacing are counted', async (t) => {
  const ifname = lab.host('a').ifname;
  await A.call('pacer.open', { name: 't', leaseMs: 1000 });
  await A.call('pacer.run', { name: 't', hex: ADVERT, dsts: [GROUP], intervalMs: 10 });
  await lab.exec('a', ['ip', 'link', 'set', ifname, 'down']);
  try {
    await sleep(100);
    const s = await A.call<Stats>('pacer.stop', { name: 't' });
    t.true(s.errors > 0, `errors counted while the link is down: ${s.errors}`);
    t.regex(s.lastError ?? '', /^(ENETDOWN|ENETUNREACH)$/, 'the link is down (its routes with it)');
    const e = await t.throwsAsync(A.call('pacer.run', { name: 't', hex: ADVERT, dsts: [GROUP], intervalMs: 10 }));
    t.regex(e!.message, /network is (down|unreachable)/i);
    const after = await A.call<Stats>('pacer.stats', { name: 't' });
    await sleep(50);
    t.is((await A.call<Stats>('pacer.stats', { name: 't' })).errors, after.errors, 'nothing paced after a failed run()');
  } finally {
    await lab.exec('a', ['ip', 'link', 'set', ifname, 'up']);
  }
});
