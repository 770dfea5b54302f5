import test from 'ava';
import fc from 'fast-check';
import { step, initialVrrp, nextDeadline, effectivePriority, compareAddresses,
  type FsmConfig, type Vrrp, type Event, type Action, type State } from '../../src/vrrp/fsm.js';
import { masterDownIntervalMs, skewTimeMs } from '../../src/vrrp/timers.js';
import type { Advert } from '../../src/vrrp/types.js';

const cfg = (o: Partial<FsmConfig> = {}): FsmConfig => ({
  version: 3, priority: 100, adverIntCs: 100, preempt: true, preemptDelayMs: 0, primaryAddress: '192.0.2.11', ...o,
});
const adv = (priority: number, maxAdverIntCs = 100, version: 2 | 3 = 3): Advert =>
  ({ version, vrid: 51, priority, maxAdverIntCs, addresses: ['192.0.2.100'] });

/** Run a script of [time, event] pairs, ticking at every deadline in between; return states and actions. */
function run(c: FsmConfig, script: [number, Event][], until: number) {
  let s = initialVrrp(c, 0);
  const log: { at: number; a: Action }[] = [];
  const apply = (e: Event, now: number) => {
    const r = step(c, s, e, now);
    s = r.state;
    for (const a of r.actions) log.push({ at: now, a });
  };
  const queue = [...script];
  for (;;) {
    const d = nextDeadline(s);
    const nextEv = queue[0];
    const tEv = nextEv ? nextEv[0] : Infinity;
    const tD = d ?? Infinity;
    const t = Math.min(tEv, tD);
    if (t > until) break;
    if (tD <= tEv) apply({ type: 'tick' }, tD);
    else { queue.shift(); apply(nextEv![1], tEv); }
  }
  return { s, log, transitions: log.filter((l) => l.a.type === 'transition').map((l) => ({ at: l.at, ...(l.a as Extract<Action, { type: 'transition' }>) })) };
}

test('timers follow RFC 5798 §6.1 (v3) and keepalived v2 skew, to the microsecond', (t) => {
  t.is(skewTimeMs(100, 100), 609.375);             // (256-100)*1000/256, exact
  t.is(masterDownIntervalMs(100, 100), 3609.375);
  t.is(skewTimeMs(100, 1), 6.093);                 // 10 ms adverts: 6.09375 truncated to whole µs, as keepalived
  t.is(masterDownIntervalMs(100, 1), 36.093);      // RFC 36.1 ms; whole centiseconds gave 30
  t.is(masterDownIntervalMs(150, 1), 34.14);       // 30 + 106*10/256 = 4.140625 -> 4.140
  t.true(masterDownIntervalMs(150, 1) < masterDownIntervalMs(100, 1), 'different priorities expire apart at 10 ms adverts');
  t.is(skewTimeMs(100, 300, 2), 609.375);          // v2: skew does not scale with the interval
  t.is(masterDownIntervalMs(254, 100), 3007.812);  // 2*1000/256 = 7.8125 -> 7.812
  t.is(masterDownIntervalMs(1, 100), 3996.093);
});

test('startup: backup, then master after Master_Down_Interval with no adverts', (t) => {
  const r = run(cfg(), [[0, { type: 'startup' }]], 5000);
  t.deepEqual(r.transitions.map((x) => [x.at, x.from, x.to, x.reason]), [
    [0, 'init', 'backup', 'startup'],
    [3609.375, 'backup', 'master', 'master-down-timer'],
  ]);
  // Master sends one advert on entry and then every advert interval.
  const sends = r.log.filter((l) => l.a.type === 'send-advert').map((l) => l.at);
  t.deepEqual(sends, [3609.375, 4609.375]);
  t.true(r.log.some((l) => l.at === 0 && l.a.type === 'vips' && l.a.op === 'del'), 'startup clears stray VIPs');
  t.true(r.log.some((l) => l.at === 3609.375 && l.a.type === 'garp'));
});

test('address owner (255) goes straight to master', (t) => {
  const r = run(cfg({ priority: 255 }), [[0, { type: 'startup' }]], 10);
  t.deepEqual(r.transitions.map((x) => x.reason), ['address-owner']);
  t.is(r.s.state, 'master');
});

const table: { name: string; c?: Partial<FsmConfig>; script: [number, Event][]; until: number; want: [number, State, State, string][] }[] = [
  {
    name: 'backup stays backup while a higher master advertises',
    script: [[0, { type: 'startup' }], ...[1, 2, 3, 4, 5, 6].map((i): [number, Event] => [i * 1000, { type: 'advert', src: '192.0.2.12', adv: adv(150) }])],
    until: 7000,
    want: [[0, 'init', 'backup', 'startup']],
  },
  {
    name: 'master goes silent: backup takes over 3*adver + skew after the last advert',
    script: [[0, { type: 'startup' }], [1000, { type: 'advert', src: '192.0.2.12', adv: adv(150) }]],
    until: 6000,
    want: [[0, 'init', 'backup', 'startup'], [4609.375, 'backup', 'master', 'master-down-timer']],
  },
  {
    name: 'priority 0 from the master: backup takes over after Skew_Time only',
    script: [[0, { type: 'startup' }], [1000, { type: 'advert', src: '192.0.2.12', adv: adv(150) }], [1500, { type: 'advert', src: '192.0.2.12', adv: adv(0) }]],
    until: 6000,
    want: [[0, 'init', 'backup', 'startup'], [2109.375, 'backup', 'master', 'master-released']],
  },
  {
    name: 'preempt: a lower-priority master is discarded and we take over',
    c: { priority: 200 },
    script: [[0, { type: 'startup' }], ...[1, 2, 3, 4, 5].map((i): [number, Event] => [i * 1000, { type: 'advert', src: '192.0.2.12', adv: adv(100) }])],
    until: 6000,
    // The down timer from startup (3 s + 56/256 s = 3218.75 ms) is never reset by lower adverts.
    want: [[0, 'init', 'backup', 'startup'], [3218.75, 'backup', 'master', 'preempt']],
  },
  {
    name: 'a stray low-priority advert while a higher master is known changes nothing',
    script: [[0, { type: 'startup' }], [1000, { type: 'advert', src: '192.0.2.12', adv: adv(150) }], [1500, { type: 'advert', src: '192.0.2.66', adv: adv(50) }]],
    until: 6000,
    want: [[0, 'init', 'backup', 'startup'], [4609.375, 'backup', 'master', 'master-down-timer']],
  },
  {
    name: 'nopreempt: a lower-priority master is accepted',
    c: { priority: 200, preempt: false },
    script: [[0, { type: 'startup' }], ...[1, 2, 3, 4, 5].map((i): [number, Event] => [i * 1000, { type: 'advert', src: '192.0.2.12', adv: adv(100) }])],
    until: 6000,
    want: [[0, 'init', 'backup', 'startup']],
  },
  {
    name: 'preempt_delay: lower master is accepted until the delay has run',
    c: { priority: 200, preemptDelayMs: 4000 },
    script: [[0, { type: 'startup' }], ...[1, 2, 3, 4, 5, 6, 7, 8].map((i): [number, Event] => [i * 1000, { type: 'advert', src: '192.0.2.12', adv: adv(100) }])],
    until: 10000,
    // first lower advert at 1000 -> preempt allowed from 5000; adverts at 5000+ are discarded;
    // the timer last reset at 4000 runs out at 4000 + 3218.75.
    want: [[0, 'init', 'backup', 'startup'], [7218.75, 'backup', 'master', 'preempt']],
  },
  {
    name: 'master yields to a higher-priority advert',
    script: [[0, { type: 'startup' }], [4000, { type: 'advert', src: '192.0.2.12', adv: adv(150) }]],
    until: 4500,
    want: [[0, 'init', 'backup', 'startup'], [3609.375, 'backup', 'master', 'master-down-timer'], [4000, 'master', 'backup', 'higher-priority-advert']],
  },
  {
    name: 'equal priority: the higher primary address wins',
    c: { priority: 100, primaryAddress: '192.0.2.11' },
    script: [[0, { type: 'startup' }], [4000, { type: 'advert', src: '192.0.2.12', adv: adv(100) }]],
    until: 4500,
    want: [[0, 'init', 'backup', 'startup'], [3609.375, 'backup', 'master', 'master-down-timer'], [4000, 'master', 'backup', 'higher-priority-advert']],
  },
  {
    name: 'equal priority: a lower address is ignored by the master',
    c: { priority: 100, primaryAddress: '192.0.2.11' },
    script: [[0, { type: 'startup' }], [4000, { type: 'advert', src: '192.0.2.9', adv: adv(100) }]],
    until: 4500,
    want: [[0, 'init', 'backup', 'startup'], [3609.375, 'backup', 'master', 'master-down-timer']],
  },
  {
    name: 'fault while master: priority 0 out, VIPs dropped, fault; cleared: backup',
    script: [[0, { type: 'startup' }], [4000, { type: 'fault', fault: true }], [5000, { type: 'fault', fault: false }]],
    until: 5500,
    want: [[0, 'init', 'backup', 'startup'], [3609.375, 'backup', 'master', 'master-down-timer'], [4000, 'master', 'fault', 'fault'], [5000, 'fault', 'backup', 'fault-cleared']],
  },
  {
    name: 'fault before startup: start in fault',
    script: [[0, { type: 'fault', fault: true }], [0, { type: 'startup' }]],
    until: 9000,
    want: [[0, 'init', 'fault', 'fault']],
  },
  {
    name: 'shutdown from master',
    script: [[0, { type: 'startup' }], [4000, { type: 'shutdown' }]],
    until: 9000,
    want: [[0, 'init', 'backup', 'startup'], [3609.375, 'backup', 'master', 'master-down-timer'], [4000, 'master', 'init', 'shutdown']],
  },
  {
    name: 'operator force to backup and sync-group force to master',
    script: [[0, { type: 'startup' }], [4000, { type: 'force', to: 'backup', reason: 'operator' }], [4100, { type: 'force', to: 'master', reason: 'sync-group' }]],
    until: 4200,
    want: [[0, 'init', 'backup', 'startup'], [3609.375, 'backup', 'master', 'master-down-timer'], [4000, 'master', 'backup', 'operator'], [4100, 'backup', 'master', 'sync-group']],
  },
];

for (const row of table) {
  test(`fsm: ${row.name}`, (t) => {
    const r = run(cfg(row.c), row.script, row.until);
    t.deepEqual(r.transitions.map((x) => [x.at, x.from, x.to, x.reason]), row.want);
  });
}

test('v3 backup adopts the master advert interval for its down timer', (t) => {
  const r = run(cfg({ adverIntCs: 100 }), [[0, { type: 'startup' }], [1000, { type: 'advert', src: '192.0.2.12', adv: adv(150, 10) }]], 3000);
  // 3*100 ms + 156*100/256 ms = 360.9375 ms (360.937 to the µs) after the advert.
  t.deepEqual(r.transitions.map((x) => [x.at, x.to]), [[0, 'backup'], [1000 + masterDownIntervalMs(100, 10), 'master']]);
  t.is(masterDownIntervalMs(100, 10), 360.937);
  // Once master, it advertises its own interval again.
  t.is(r.s.masterAdverIntCs, 100);
});

test('v2 does not adopt the interval', (t) => {
  const c = cfg({ version: 2, adverIntCs: 100 });
  const r = run(c, [[0, { type: 'startup' }], [1000, { type: 'advert', src: '192.0.2.12', adv: adv(150, 300, 2) }]], 10000);
  t.deepEqual(r.transitions.map((x) => [x.at, x.to]), [[0, 'backup'], [1000 + 3609.375, 'master']]);
});

test('shutdown from master sends priority 0 and drops VIPs', (t) => {
  const r = run(cfg(), [[0, { type: 'startup' }], [4000, { type: 'shutdown' }]], 9000);
  const at4000 = r.log.filter((l) => l.at === 4000).map((l) => l.a);
  t.deepEqual(at4000.slice(0, 2), [{ type: 'send-advert', priority: 0 }, { type: 'vips', op: 'del' }]);
  t.is(nextDeadline(r.s), undefined, 'no timers after shutdown');
});

test('master answers a priority-0 advert with its own advert at once', (t) => {
  const r = run(cfg(), [[0, { type: 'startup' }], [3700, { type: 'advert', src: '192.0.2.12', adv: adv(0) }]], 3800);
  t.true(r.log.some((l) => l.at === 3700 && l.a.type === 'send-advert' && l.a.priority === 100));
});

test('priority change while master is advertised at once', (t) => {
  const r = run(cfg(), [[0, { type: 'startup' }], [3700, { type: 'priority', priority: 80 }]], 3800);
  t.true(r.log.some((l) => l.at === 3700 && l.a.type === 'send-advert' && l.a.priority === 80));
});

test('operator handover: a master sends priority 0 at once and keeps its VIPs until a higher-priority advert arrives', (t) => {
  const r = run(cfg({ priority: 150 }), [
    [0, { type: 'startup' }],
    [3700, { type: 'priority', priority: 1 }],
    [3700, { type: 'handover' }],
    // The peer (100) heard priority 0, waited its Skew_Time and advertises as master.
    [3700 + skewTimeMs(100, 100), { type: 'advert', src: '192.0.2.12', adv: adv(100) }],
  ], 6000);
  const at3700 = r.log.filter((l) => l.at === 3700).map((l) => l.a);
  t.deepEqual(at3700.filter((a) => a.type === 'send-advert').map((a) => (a as { priority: number }).priority), [1, 0]);
  t.false(at3700.some((a) => a.type === 'vips' || a.type === 'transition'), 'still master with its VIPs: no masterless moment');
  const down = r.transitions.find((x) => x.from === 'master');
  t.like(down, { at: 3700 + skewTimeMs(100, 100), to: 'backup' });
  t.true(r.log.some((l) => l.at === down!.at && l.a.type === 'vips' && l.a.op === 'del'), 'the VIPs go when the new master shows itself');
});

test('operator handover: nothing happens on a backup, and a master nobody relieves keeps advertising', (t) => {
  const b = run(cfg(), [[0, { type: 'startup' }], [100, { type: 'handover' }]], 200);
  t.false(b.log.some((l) => l.a.type === 'send-advert'));
  const m = run(cfg(), [[0, { type: 'startup' }], [3700, { type: 'priority', priority: 1 }], [3700, { type: 'handover' }]], 6000);
  t.is(m.s.state, 'master');
  t.deepEqual(m.log.filter((l) => l.a.type === 'send-advert' && l.at > 3700).map((l) => [l.at, (l.a as { priority: number }).priority]), [[4700, 1], [5700, 1]]);
});

test('effectivePriority clamps and keeps owners at 255', (t) => {
  t.is(effectivePriority(100, -150), 1);
  t.is(effectivePriority(200, 100), 254);
  t.is(effectivePriority(255, -50), 255);
  t.is(effectivePriority(100, -20), 80);
});

test('compareAddresses orders numerically', (t) => {
  t.true(compareAddresses('192.0.2.12', '192.0.2.9') > 0);
  t.true(compareAddresses('2001:db8::2', '2001:db8::1') > 0);
  t.true(compareAddresses('fe80::1:0', 'fe80::ffff') > 0);
  t.is(compareAddresses('10.0.0.1', '10.0.0.1'), 0);
});

/** Two FSMs wired back to back on one fake timeline, with configurable loss. */
function simulatePair(p1: number, p2: number, preempt: boolean, lossEvery: number, untilMs: number) {
  const cfgs = [cfg({ priority: p1, primaryAddress: '192.0.2.11', preempt }), cfg({ priority: p2, primaryAddress: '192.0.2.12', preempt })];
  const st: Vrrp[] = cfgs.map((c) => initialVrrp(c, 0));
  const inbox: { at: number; to: number; e: Event }[] = [];
  let sent = 0;
  const apply = (i: number, e: Event, now: number) => {
    const r = step(cfgs[i]!, st[i]!, e, now);
    st[i] = r.state;
    for (const a of r.actions) {
      if (a.type !== 'send-advert') continue;
      sent++;
      if (lossEvery > 0 && sent % lossEvery === 0) continue;
      inbox.push({ at: now + 1, to: 1 - i, e: { type: 'advert', src: cfgs[i]!.primaryAddress, adv: adv(a.priority) } });
    }
  };
  apply(0, { type: 'startup' }, 0);
  apply(1, { type: 'startup' }, 0);
  for (let guard = 0; guard < 100000; guard++) {
    inbox.sort((a, b) => a.at - b.at);
    const d = st.map((s) => nextDeadline(s) ?? Infinity);
    const tMsg = inbox[0]?.at ?? Infinity;
    const t = Math.min(tMsg, d[0]!, d[1]!);
    if (t > untilMs) break;
    if (tMsg === t) { const m = inbox.shift()!; apply(m.to, m.e, t); }
    else apply(d[0] === t ? 0 : 1, { type: 'tick' }, t);
  }
  return st;
}

test('property: two nodes on a lossless link settle on exactly one master, the higher priority with preempt', (t) => {
  t.notThrows(() => fc.assert(fc.property(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 254 }), fc.boolean(), (p1, p2, preempt) => {
    const st = simulatePair(p1, p2, preempt, 0, 20000);
    const masters = st.map((s, i) => s.state === 'master' ? i : -1).filter((i) => i >= 0);
    if (masters.length !== 1) return false;
    if (preempt && p1 !== p2) return masters[0] === (p1 > p2 ? 0 : 1);
    return true;
  }), { numRuns: 300, seed: 42 }));
});

test('restart hand-off: a keeping shutdown sends a normal advert and keeps the VIPs; a resumed start is master at once', (t) => {
  // The old run: master by 3609.375, stops for a restart at 5000.
  const old = run(cfg(), [[0, { type: 'startup' }], [5000, { type: 'shutdown', keep: true }]], 5000);
  const atStop = old.log.filter((l) => l.at === 5000).map((l) => l.a);
  t.deepEqual(atStop, [{ type: 'send-advert', priority: 100 }, { type: 'transition', from: 'master', to: 'init', reason: 'restart' }]);
  t.is(nextDeadline(old.s), undefined, 'no timers left running');
  // The new run resumes: master immediately, no VIP removal first, adverts from the start.
  const next = run(cfg(), [[0, { type: 'startup', resume: true }]], 1000);
  t.deepEqual(next.transitions.map((x) => [x.at, x.from, x.to, x.reason]), [[0, 'init', 'master', 'resumed']]);
  t.false(next.log.some((l) => l.a.type === 'vips' && l.a.op === 'del'));
  t.deepEqual(next.log.filter((l) => l.a.type === 'send-advert').map((l) => l.at), [0, 1000]);
});

test('restart hand-off: a backup stops as usual, a fault beats resume, keep without mastership is a plain stop', (t) => {
  const backup = run(cfg(), [[0, { type: 'startup' }], [1000, { type: 'advert', src: '192.0.2.12', adv: adv(150) }], [1500, { type: 'shutdown', keep: true }]], 1500);
  t.deepEqual(backup.transitions.at(-1)?.reason, 'shutdown');
  t.false(backup.log.some((l) => l.at === 1500 && l.a.type === 'send-advert'));
  let s = initialVrrp(cfg(), 0);
  s = step(cfg(), s, { type: 'fault', fault: true }, 0).state;
  const r = step(cfg(), s, { type: 'startup', resume: true }, 0);
  t.is(r.state.state, 'fault');
  // A plain shutdown of a master still hands over with priority 0.
  const plain = run(cfg(), [[0, { type: 'startup' }], [5000, { type: 'shutdown' }]], 5000);
  t.deepEqual(plain.log.filter((l) => l.at === 5000 && l.a.type !== 'transition').map((l) => l.a), [{ type: 'send-advert', priority: 0 }, { type: 'vips', op: 'del' }]);
});

test('dual master: a lower-priority advert right after we became master is a crossing, not a dual master', (t) => {
  // Master at 3414.062 (priority 150: 3 s + skew); a lower advert 50 ms later (it had no time to hear us) changes nothing.
  const m = masterDownIntervalMs(150, 100);
  const r = run(cfg({ priority: 150 }), [[0, { type: 'startup' }], [3460, { type: 'advert', src: '192.0.2.12', adv: adv(100) }]], 5000);
  t.is(r.s.state, 'master');
  t.false(r.log.some((l) => l.a.type === 'dual-master'));
  t.deepEqual(r.log.filter((l) => l.a.type === 'send-advert').map((l) => l.at), [m, m + 1000], 'no extra advert');
});

test('dual master: lower-priority adverts past one interval are one episode, answered with our advert at most every half interval; a new episode after three quiet intervals', (t) => {
  const other = (at: number): [number, Event] => [at, { type: 'advert', src: '192.0.2.12', adv: adv(100) }];
  const r = run(cfg({ priority: 150 }), [[0, { type: 'startup' }], other(4500), other(5000), other(5100), other(9500)], 9600);
  t.is(r.s.state, 'master', 'we outrank it: we stay master');
  t.deepEqual(r.log.filter((l) => l.a.type === 'dual-master').map((l) => [l.at, (l.a as { src: string }).src, (l.a as { priority: number }).priority]),
    [[4500, '192.0.2.12', 100], [9500, '192.0.2.12', 100]], 'said at the first advert past one interval, and again only after a quiet spell');
  const sends = r.log.filter((l) => l.a.type === 'send-advert').map((l) => l.at);
  // Master at 3414.062, adverts then and at 4414.062. 4500: answered with an advert and a
  // re-announcement; 5000: under an interval since, but our next advert is due within half an
  // interval: an advert only; 5100: nothing; then every interval from 5000.
  const m = masterDownIntervalMs(150, 100);
  t.deepEqual(sends.filter((x) => x < 7000), [m, m + 1000, 4500, 5000, 6000]);
  t.deepEqual(r.log.filter((l) => l.a.type === 'reannounce').map((l) => l.at), [4500, 9500]);
  t.deepEqual(r.s.dualMaster, { src: '192.0.2.12', priority: 100, via: 'advert', lastAt: 9500 });
});

test('dual master: the episode ends when we leave master', (t) => {
  const r = run(cfg({ priority: 150 }), [[0, { type: 'startup' }], [4500, { type: 'advert', src: '192.0.2.12', adv: adv(100) }], [4600, { type: 'advert', src: '192.0.2.13', adv: adv(200) }]], 4700);
  t.is(r.s.state, 'backup');
  t.is(r.s.dualMaster, undefined);
});

test('dual master by ARP: a claim past one interval as master starts an episode, said once; adverts and claims share it', (t) => {
  const claim = (at: number): [number, Event] => [at, { type: 'claim', address: '192.0.2.100', mac: '02:00:00:00:00:99' }];
  // Master at 3410; a claim at 3500 is within the first interval (the old master's GARP in flight): nothing.
  const r = run(cfg({ priority: 150 }), [[0, { type: 'startup' }], claim(3500), claim(4500), claim(4700),
    [5000, { type: 'advert', src: '192.0.2.12', adv: adv(100) }], claim(9500)], 9600);
  t.is(r.s.state, 'master', 'a claim alone never moves the state');
  const said = r.log.filter((l) => l.a.type === 'dual-master').map((l) => ({ at: l.at, ...(l.a as object) }));
  t.deepEqual(said, [
    { at: 4500, type: 'dual-master', src: '02:00:00:00:00:99', priority: undefined, via: 'arp', address: '192.0.2.100' },
    { at: 9500, type: 'dual-master', src: '02:00:00:00:00:99', priority: undefined, via: 'arp', address: '192.0.2.100' },
  ], 'one episode for the claims and the advert at 5000, a new one after three quiet intervals');
  t.deepEqual(r.s.dualMaster, { src: '02:00:00:00:00:99', priority: undefined, via: 'arp', lastAt: 9500 });
  t.false(r.log.some((l) => l.a.type === 'send-advert' && l.at === 4500), 'a claim is not answered with an advert (no VRRP peer to tell)');
});

test('dual master by ARP: a backup ignores claims (the master owns the address)', (t) => {
  const r = run(cfg({ priority: 100 }), [[0, { type: 'startup' }], [100, { type: 'advert', src: '192.0.2.12', adv: adv(200) }],
    [1000, { type: 'claim', address: '192.0.2.100', mac: '02:00:00:00:00:99' }]], 1100);
  t.is(r.s.state, 'backup');
  t.false(r.log.some((l) => l.a.type === 'dual-master'));
  t.is(r.s.dualMaster, undefined);
});

test('garp_lower_prio_repeat: a lower-priority advert makes the master advertise and re-announce at once, at most once per interval', (t) => {
  const m = masterDownIntervalMs(150, 100);
  const low = (at: number, p = 100): [number, Event] => [at, { type: 'advert', src: '192.0.2.12', adv: adv(p) }];
  // A backup that was master for a moment: two of its adverts, 100 ms apart, long after we became master.
  const r = run(cfg({ priority: 150 }), [[0, { type: 'startup' }], low(8000), low(8100), low(9050)], 9100);
  const at = (type: Action['type']) => r.log.filter((l) => l.a.type === type).map((l) => l.at);
  t.deepEqual(at('reannounce'), [8000, 9050], 'at once, not again within the interval');
  t.deepEqual(r.log.filter((l) => l.at === 8000).map((l) => l.a.type), ['send-advert', 'reannounce', 'dual-master'],
    'our advert first, then the announcement');
  t.like(r.log.find((l) => l.a.type === 'reannounce')?.a, { src: '192.0.2.12', priority: 100 });
  t.true(at('send-advert').includes(8000));
  t.is(r.s.state, 'master');
  t.is(r.transitions.length, 2, 'no transition');
  // Our adverts follow from the re-announcement, not the old cadence.
  t.deepEqual(at('send-advert').filter((x) => x > 7000), [m + 4000, 8000, 9000, 9050]);
  // A crossing right after we became master is no reason to re-announce; nor is a higher or a priority-0 advert.
  const early = run(cfg({ priority: 150 }), [[0, { type: 'startup' }], low(m + 50)], m + 200);
  t.false(early.log.some((l) => l.a.type === 'reannounce'));
  const zero = run(cfg({ priority: 150 }), [[0, { type: 'startup' }], low(8000, 0)], 8100);
  t.false(zero.log.some((l) => l.a.type === 'reannounce'));
  // The state is cleared when we leave master: a new term re-announces at once again.
  let s = r.s;
  s = step(cfg({ priority: 150 }), s, { type: 'advert', src: '192.0.2.13', adv: adv(200) }, 9060).state;
  t.is(s.state, 'backup');
  t.is(s.reannouncedAt, undefined);
});

test('make-before-break shutdown: priority 0 now and each interval, VIPs kept until the new master advertises, then Initialize', (t) => {
  // Master from 3609.375 (100 cs adverts); stop at 4000; the peer's first advert at 4650 (Skew_Time after our priority 0).
  const r = run(cfg(), [[0, { type: 'startup' }], [4000, { type: 'shutdown', handover: true }], [4650, { type: 'advert', src: '192.0.2.12', adv: adv(90) }]], 9000);
  const after = r.log.filter((l) => l.at >= 4000).map((l) => [l.at, l.a.type === 'send-advert' ? `advert ${l.a.priority}` : l.a.type === 'vips' ? `vips ${l.a.op}` : l.a.type]);
  t.deepEqual(after, [[4000, 'advert 0'], [4650, 'vips del'], [4650, 'transition']]);
  t.deepEqual(r.transitions.at(-1), { at: 4650, type: 'transition', from: 'master', to: 'init', reason: 'shutdown' });
  t.is(nextDeadline(r.s), undefined, 'no timers after');
});

test('make-before-break shutdown with no new master: priority 0 repeated each interval, VIPs dropped after three intervals', (t) => {
  const r = run(cfg(), [[0, { type: 'startup' }], [4000, { type: 'shutdown', handover: true }], [4100, { type: 'priority', priority: 120 }], [4200, { type: 'shutdown', handover: true }], [4300, { type: 'handover' }], [4400, { type: 'advert', src: '192.0.2.12', adv: adv(0) }]], 9000);
  const after = r.log.filter((l) => l.at >= 4000).map((l) => [l.at, l.a.type === 'send-advert' ? `advert ${l.a.priority}` : l.a.type === 'vips' ? `vips ${l.a.op}` : l.a.type]);
  // A priority change, a second stop, an operator handover and another router's priority 0 send nothing extra.
  t.deepEqual(after, [[4000, 'advert 0'], [5000, 'advert 0'], [6000, 'advert 0'], [7000, 'advert 0'], [7020, 'vips del'], [7020, 'transition']]);
  t.is(r.s.state, 'init');
});

test('make-before-break shutdown: a fault meanwhile hands over at once (VIPs dropped), and a backup stops as before', (t) => {
  const f = run(cfg(), [[0, { type: 'startup' }], [4000, { type: 'shutdown', handover: true }], [4100, { type: 'fault', fault: true }]], 9000);
  t.deepEqual(f.transitions.at(-1), { at: 4100, type: 'transition', from: 'master', to: 'fault', reason: 'fault' });
  t.is(nextDeadline(f.s), undefined);
  const b = run(cfg(), [[0, { type: 'startup' }], [1000, { type: 'advert', src: '192.0.2.12', adv: adv(150) }], [1500, { type: 'shutdown', handover: true }]], 9000);
  t.deepEqual(b.transitions.at(-1), { at: 1500, type: 'transition', from: 'backup', to: 'init', reason: 'shutdown' });
  t.false(b.log.some((l) => l.at >= 1500 && l.a.type === 'send-advert'));
});
