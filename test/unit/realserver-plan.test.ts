// The real-server planner: which steps setup and teardown take from a given host state, that a
// second setup changes nothing, and that teardown puts back exactly what setup changed. Plans
// are carried out on a simulated host (what the applier does to the kernel, in memory).
import test from 'ava';
import fc from 'fast-check';
import {
  formatStep, planSetup, planTeardown, sysctlKeys, sysctlName, wantedSysctls,
  type HostState, type Plan, type RealServerOptions,
} from '../../src/realserver/plan.js';
import { parseRealServerArgs } from '../../src/realserver/cli.js';

const V4 = { address: '192.0.2.100', family: 4 } as const;
const V4b = { address: '192.0.2.101', family: 4 } as const;
const V6 = { address: '2001:db8::100', family: 6 } as const;

const ALL_KEYS = ['all', 'default', 'lo', 'eth0', 'tunl0'].flatMap((i) =>
  ['arp_ignore', 'arp_announce', 'rp_filter'].map((n) => `net/ipv4/conf/${i}/${n}`));

/** A fresh host: lo and eth0 up, every sysctl 0 (rp_filter 2, as many distributions set it). */
function host(o: { tunl0?: boolean; values?: Record<string, string> } = {}): HostState {
  const links = [{ name: 'lo', up: true }, { name: 'eth0', up: true }, ...(o.tunl0 ? [{ name: 'tunl0', up: false }] : [])];
  const sysctls: Record<string, string | undefined> = {};
  for (const k of ALL_KEYS) {
    if (k.includes('/tunl0/') && !o.tunl0) continue;
    sysctls[k] = o.values?.[k] ?? (k.endsWith('rp_filter') ? '2' : '0');
  }
  return {
    links,
    addresses: [
      { ifname: 'lo', address: '127.0.0.1', prefixLen: 8, label: 'lo' },
      { ifname: 'eth0', address: '192.0.2.21', prefixLen: 24, label: 'eth0' },
    ],
    sysctls,
    saved: undefined,
  };
}

/** What the applier does to the kernel, on the simulated host. */
function carryOut(h: HostState, plan: Plan): HostState {
  const n = structuredClone(h);
  for (const s of plan.steps) {
    switch (s.op) {
      case 'load-module':
        n.links.push({ name: 'tunl0', up: false });
        for (const k of ALL_KEYS.filter((x) => x.includes('/tunl0/'))) n.sysctls[k] = n.sysctls[k.replace('/tunl0/', '/default/')];
        break;
      case 'sysctl':
        if (n.sysctls[s.key] === undefined) throw new Error(`no sysctl ${s.key}`);
        n.sysctls[s.key] = s.value;
        break;
      case 'link':
        n.links.find((l) => l.name === s.dev)!.up = s.up;
        break;
      case 'addr':
        if (s.add) n.addresses.push({ ifname: s.dev, address: s.address, prefixLen: s.prefixLen, label: s.label ?? s.dev });
        else n.addresses = n.addresses.filter((a) => !(a.ifname === s.dev && a.address === s.address));
    }
  }
  n.saved = plan.state;
  return n;
}

const cmds = (p: Plan): string[] => p.steps.map(formatStep);

test('DR setup: ARP sysctls on all and lo before the VIP goes on lo with our label', (t) => {
  const p = planSetup({ mode: 'dr', vips: [V4] }, host());
  t.deepEqual(cmds(p), [
    'sysctl -w net.ipv4.conf.all.arp_ignore=1',
    'sysctl -w net.ipv4.conf.all.arp_announce=2',
    'sysctl -w net.ipv4.conf.lo.arp_ignore=1',
    'sysctl -w net.ipv4.conf.lo.arp_announce=2',
    'ip addr add 192.0.2.100/32 dev lo label lo:duet',
  ]);
  t.true(p.stateChanged);
  t.deepEqual(p.state?.addresses, [{ dev: 'lo', address: '192.0.2.100', prefixLen: 32 }]);
  t.deepEqual(p.state?.sysctls['net/ipv4/conf/all/arp_ignore'], { previous: '0', set: '1' });
  t.deepEqual(p.notes, []);
});

test('DR setup with --dev: the director-facing interface instead of lo', (t) => {
  const p = planSetup({ mode: 'dr', vips: [V4], dev: 'eth0' }, host());
  t.deepEqual(cmds(p).filter((c) => c.startsWith('sysctl')), [
    'sysctl -w net.ipv4.conf.all.arp_ignore=1',
    'sysctl -w net.ipv4.conf.all.arp_announce=2',
    'sysctl -w net.ipv4.conf.eth0.arp_ignore=1',
    'sysctl -w net.ipv4.conf.eth0.arp_announce=2',
  ]);
  t.throws(() => planSetup({ mode: 'dr', vips: [V4], dev: 'eth9' }, host()), { message: /--dev eth9: no such interface/ });
});

test('DR with IPv6 only: /128 on lo, no ARP sysctls (neighbour discovery needs none)', (t) => {
  const p = planSetup({ mode: 'dr', vips: [V6] }, host());
  t.deepEqual(cmds(p), ['ip addr add 2001:db8::100/128 dev lo nodad']);
});

test('a second setup changes nothing and says so through an empty plan', (t) => {
  const o: RealServerOptions = { mode: 'dr', vips: [V4, V6] };
  const after = carryOut(host(), planSetup(o, host()));
  const again = planSetup(o, after);
  t.deepEqual(again.steps, []);
  t.false(again.stateChanged);
  t.deepEqual(again.state, after.saved);
});

test('sysctls already at the wanted value are neither written nor restored', (t) => {
  const h = host({ values: { 'net/ipv4/conf/all/arp_ignore': '1', 'net/ipv4/conf/lo/arp_announce': '2' } });
  const p = planSetup({ mode: 'dr', vips: [V4] }, h);
  t.deepEqual(Object.keys(p.state!.sysctls).sort(), ['net/ipv4/conf/all/arp_announce', 'net/ipv4/conf/lo/arp_ignore']);
  const down = planTeardown({ mode: 'dr', vips: [V4] }, carryOut(h, p));
  t.deepEqual(cmds(down), [
    'ip addr del 192.0.2.100/32 dev lo',
    'sysctl -w net.ipv4.conf.all.arp_announce=0',
    'sysctl -w net.ipv4.conf.lo.arp_ignore=0',
  ]);
  t.is(down.state, undefined);
});

test('TUN without tunl0: load ipip, previous values from net.ipv4.conf.default, rp_filter 0, tunl0 up', (t) => {
  const h = host({ values: { 'net/ipv4/conf/default/arp_ignore': '0', 'net/ipv4/conf/default/rp_filter': '1' } });
  const o: RealServerOptions = { mode: 'tun', vips: [V4] };
  t.true(sysctlKeys(o).includes('net/ipv4/conf/default/rp_filter'));
  const p = planSetup(o, h);
  t.deepEqual(cmds(p), [
    'modprobe ipip',
    'sysctl -w net.ipv4.conf.all.arp_ignore=1',
    'sysctl -w net.ipv4.conf.all.arp_announce=2',
    'sysctl -w net.ipv4.conf.tunl0.arp_ignore=1',
    'sysctl -w net.ipv4.conf.tunl0.arp_announce=2',
    'sysctl -w net.ipv4.conf.all.rp_filter=0',
    'sysctl -w net.ipv4.conf.tunl0.rp_filter=0',
    'ip link set dev tunl0 up',
    'ip addr add 192.0.2.100/32 dev tunl0 label tunl0:duet',
  ]);
  t.deepEqual(p.state?.sysctls['net/ipv4/conf/tunl0/rp_filter'], { previous: '1', set: '0' });
  t.deepEqual(p.state?.linksUp, ['tunl0']);
  const up = carryOut(h, p);
  t.deepEqual(planSetup(o, up).steps, []);
  t.deepEqual(cmds(planTeardown(o, up)), [
    'ip addr del 192.0.2.100/32 dev tunl0',
    'sysctl -w net.ipv4.conf.all.arp_ignore=0',
    'sysctl -w net.ipv4.conf.all.arp_announce=0',
    'sysctl -w net.ipv4.conf.tunl0.arp_ignore=0',
    'sysctl -w net.ipv4.conf.tunl0.arp_announce=0',
    'sysctl -w net.ipv4.conf.all.rp_filter=2',
    'sysctl -w net.ipv4.conf.tunl0.rp_filter=1',
    'ip link set dev tunl0 down',
  ]);
});

test('TUN refuses IPv6 VIPs (that is ip6tnl0, not ipip)', (t) => {
  t.throws(() => planSetup({ mode: 'tun', vips: [V6] }, host({ tunl0: true })), { message: /IPv4 VIPs \(tunl0, ipip\) only/ });
});

test('a VIP already on lo that duet did not add is left alone by setup and teardown', (t) => {
  const h = host();
  h.addresses.push({ ifname: 'lo', address: '192.0.2.100', prefixLen: 32, label: 'lo' });
  const p = planSetup({ mode: 'dr', vips: [V4] }, h);
  t.false(cmds(p).some((c) => c.startsWith('ip addr')));
  t.regex(p.notes.join('\n'), /already on lo \(not added by duet\)/);
  const down = planTeardown({ mode: 'dr', vips: [V4] }, carryOut(h, p));
  t.false(cmds(down).some((c) => c.startsWith('ip addr')));
  t.regex(down.notes.join('\n'), /192\.0\.2\.100 on lo was not added by duet: left alone/);
});

test('a VIP also on the director-facing interface is pointed out', (t) => {
  const h = host();
  h.addresses.push({ ifname: 'eth0', address: '192.0.2.100', prefixLen: 24, label: 'eth0' });
  t.regex(planSetup({ mode: 'dr', vips: [V4] }, h).notes.join('\n'), /also on eth0/);
});

test('teardown of one of two VIPs keeps the sysctls the other still needs', (t) => {
  const o: RealServerOptions = { mode: 'dr', vips: [V4, V4b] };
  const up = carryOut(host(), planSetup(o, host()));
  const p = planTeardown({ mode: 'dr', vips: [V4b] }, up);
  t.deepEqual(cmds(p), ['ip addr del 192.0.2.101/32 dev lo']);
  t.deepEqual(p.state?.addresses.map((a) => a.address), ['192.0.2.100']);
  t.regex(p.notes.join('\n'), /sysctls kept: still needed by 192\.0\.2\.100/);
});

test('teardown without a state file still removes our labelled address; with nothing set up it does nothing', (t) => {
  const h = host();
  t.deepEqual(planTeardown({ mode: 'dr', vips: [V4] }, h).steps, []);
  t.false(planTeardown({ mode: 'dr', vips: [] }, h).stateChanged);
  h.addresses.push({ ifname: 'lo', address: '192.0.2.100', prefixLen: 32, label: 'lo:duet' });
  t.deepEqual(cmds(planTeardown({ mode: 'dr', vips: [V4] }, h)), ['ip addr del 192.0.2.100/32 dev lo']);
});

test('teardown without --vip removes every VIP setup added', (t) => {
  const up = carryOut(host(), planSetup({ mode: 'dr', vips: [V4, V6] }, host()));
  const down = carryOut(up, planTeardown({ mode: 'dr', vips: [] }, up));
  t.false(down.addresses.some((a) => a.ifname === 'lo' && a.address !== '127.0.0.1'));
  t.is(down.saved, undefined);
});

test('a sysctl changed by someone else since setup is left alone, with a note', (t) => {
  const up = carryOut(host(), planSetup({ mode: 'dr', vips: [V4] }, host()));
  up.sysctls['net/ipv4/conf/all/arp_announce'] = '1';
  const p = planTeardown({ mode: 'dr', vips: [V4] }, up);
  t.false(cmds(p).some((c) => c.includes('all.arp_announce')));
  t.regex(p.notes.join('\n'), /net\.ipv4\.conf\.all\.arp_announce is 1, not the 2 setup wrote/);
});

test('setup then teardown returns any host to where it was (property)', (t) => {
  const value = fc.constantFrom('0', '1', '2', '8');
  const vip = fc.constantFrom(V4, V4b, V6);
  fc.assert(
    fc.property(
      fc.constantFrom<'dr' | 'tun'>('dr', 'tun'), fc.uniqueArray(vip, { minLength: 1, maxLength: 3, selector: (v) => v.address }),
      fc.boolean(), fc.dictionary(fc.constantFrom(...ALL_KEYS), value), fc.boolean(),
      (mode, vips0, tunl0, values, withDev) => {
        const vips = mode === 'tun' ? vips0.filter((v) => v.family === 4) : vips0;
        if (vips.length === 0) return;
        const o: RealServerOptions = { mode, vips, ...(withDev ? { dev: 'eth0' } : {}) };
        const h0 = host({ tunl0, values });
        const h1 = carryOut(h0, planSetup(o, h0));
        for (const [k, v] of wantedSysctls(o)) t.is(h1.sysctls[k], v, k);
        t.deepEqual(planSetup(o, h1).steps, []);
        const h2 = carryOut(h1, planTeardown(o, h1));
        t.is(h2.saved, undefined);
        t.deepEqual(h2.addresses, h0.addresses);
        for (const k of Object.keys(h0.sysctls)) t.is(h2.sysctls[k], h0.sysctls[k], k);
        // tunl0 stays (the module stays loaded) but goes down again.
        t.false(h2.links.find((l) => l.name === 'tunl0')?.up ?? false);
      },
    ),
    { numRuns: 300 },
  );
});

test('sysctl names as sysctl(8) writes them; dotted interface names use /', (t) => {
  t.is(sysctlName('net/ipv4/conf/eth0.100/arp_ignore'), 'net.ipv4.conf.eth0/100.arp_ignore');
});

test('command-line options: mode, host-length VIPs, setup needs a VIP', (t) => {
  t.like(parseRealServerArgs(['setup'], { vip: ['192.0.2.100', '192.0.2.100/32'], mode: 'dr' }),
    { action: 'setup', opts: { mode: 'dr', vips: [V4] }, stateFile: '/run/duet/realserver.json', dryRun: false });
  t.regex(parseRealServerArgs(['setup'], { vip: ['192.0.2.100/24'], mode: 'dr' }) as string, /host address \(\/32 or \/128\)/);
  t.regex(parseRealServerArgs(['setup'], { vip: ['300.1.1.1'], mode: 'dr' }) as string, /--vip 300\.1\.1\.1/);
  t.regex(parseRealServerArgs(['setup'], { mode: 'dr' }) as string, /at least one --vip/);
  t.regex(parseRealServerArgs(['setup'], { vip: ['192.0.2.100'], mode: 'nat' }) as string, /--mode must be dr or tun, got 'nat'/);
  t.regex(parseRealServerArgs(['frob'], {}) as string, /^usage: duet realserver/);
  t.like(parseRealServerArgs(['teardown'], { mode: 'tun', 'dry-run': true, state: '/tmp/x.json' }), { action: 'teardown', dryRun: true, stateFile: '/tmp/x.json' });
});
