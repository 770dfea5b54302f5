// The example configs in conf/: each loads cleanly and says what its name promises (a DR pair
// forwards by direct routing, the NAT pair masquerades, ...), every virtual server's address is
// a VIP the pair holds, and the `duet realserver setup` line in the comments matches the config.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

const CONF = fileURLToPath(new URL('../../../conf/', import.meta.url));
const files = readdirSync(CONF).filter((f) => f.endsWith('.yaml')).sort();

async function load(name: string): Promise<Config> {
  const r = await loadConfig(`${CONF}${name}`);
  if (!r.ok) throw new Error(r.error.map((i) => `${i.file}:${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.value;
}

const forwards = (c: Config): Set<string> => new Set(c.virtualServers.flatMap((v) => v.realServers.map((r) => r.forward)));
/** The VRRP instances' VIPs and the ones announced by BGP. */
const vips = (c: Config): string[] => [...c.vrrp.instances.flatMap((i) => i.vips.map((v) => v.address)), ...(c.bgp?.vips.map((v) => v.address) ?? [])];

test('the pair examples are all there', (t) => {
  for (const f of ['dr-pair.yaml', 'nat-pair.yaml', 'tun-pair.yaml', 'unicast-pair.yaml']) t.true(files.includes(f), f);
});

for (const f of files) {
  test(`${f} is valid, and each virtual server is reachable through a VIP and checked`, async (t) => {
    const c = await load(f);
    t.true(c.virtualServers.length > 0);
    for (const v of c.virtualServers) {
      if (v.kind === 'addr') t.true(vips(c).includes(v.address), `${v.name}: ${v.address} is not a VIP of any instance`);
      t.true(v.realServers.every((r) => r.checks.length > 0), `${v.name}: a real server without checks`);
    }
  });
}

/** `duet realserver setup --vip X --mode Y` lines in the comments: each VIP is one of the pair's, each mode one it uses. */
async function checkRealServerHint(t: import('ava').ExecutionContext, name: string, mode: 'dr' | 'tun'): Promise<void> {
  const c = await load(name);
  const hints = [...readFileSync(`${CONF}${name}`, 'utf8').matchAll(/duet realserver setup --vip (\S+) --mode (\w+)/g)];
  t.true(hints.length > 0, 'no realserver setup line');
  for (const [, vip, m] of hints) {
    t.true(vips(c).includes(vip!), `${vip} is not a VIP`);
    t.is(m, mode);
  }
}

test('dr-pair: direct routing, multicast adverts, real servers told to run realserver setup --mode dr', async (t) => {
  const c = await load('dr-pair.yaml');
  t.deepEqual(forwards(c), new Set(['route']));
  t.true(c.vrrp.instances.every((i) => i.unicastPeers.length === 0));
  t.is(c.virtualServers[0]?.sorryServer?.forward, 'route');
  await checkRealServerHint(t, 'dr-pair.yaml', 'dr');
});

test('nat-pair: masquerading with port translation, and a gateway VIP synced with the public one', async (t) => {
  const c = await load('nat-pair.yaml');
  t.deepEqual(forwards(c), new Set(['masq']));
  const web = c.virtualServers.find((v) => v.name === 'web');
  t.true(web?.kind === 'addr' && web.realServers.every((r) => r.port !== web.port));
  t.is(c.vrrp.instances.length, 2);
  t.deepEqual(c.vrrp.syncGroups[0]?.instances.slice().sort(), c.vrrp.instances.map((i) => i.name).sort());
  t.notRegex(readFileSync(`${CONF}nat-pair.yaml`, 'utf8'), /duet realserver setup --vip/);
});

test('tun-pair: IPIP tunnelling, real servers told to run realserver setup --mode tun', async (t) => {
  const c = await load('tun-pair.yaml');
  t.deepEqual(forwards(c), new Set(['tunnel']));
  t.true(c.virtualServers.every((v) => v.realServers.every((r) => r.tunnel?.type === 'ipip')));
  await checkRealServerHint(t, 'tun-pair.yaml', 'tun');
});

test('unicast-pair: unicast peers and source, no multicast', async (t) => {
  const c = await load('unicast-pair.yaml');
  t.true(c.vrrp.instances.length > 0);
  for (const i of c.vrrp.instances) {
    t.true(i.unicastPeers.length > 0, `${i.name} has no unicast_peer`);
    t.truthy(i.unicastSrcIp);
    t.false(i.unicastPeers.includes(i.unicastSrcIp!));
  }
});

// The demo's director configs live beside its script (lab/sh/) and are run only by the demo: a
// broken one would show only there, so they are loaded here too.
const LAB_SH = fileURLToPath(new URL('../../../lab/sh/', import.meta.url));
for (const f of readdirSync(LAB_SH).filter((x) => x.endsWith('.yaml')).sort()) {
  test(`lab/sh/${f} loads`, async (t) => {
    const r = await loadConfig(`${LAB_SH}${f}`);
    t.true(r.ok, r.ok ? '' : r.error.map((i) => `${i.line} ${i.path}: ${i.message}`).join('\n'));
  });
}
