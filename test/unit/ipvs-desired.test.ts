// ipvs/desired: normalized config → the desired Table, and the weight seam health checks and
// operator overrides will use. Config changes then diff to the expected minimal ops.
import test from 'ava';
import { formatIssue, loadConfig, parseConfig } from '../../src/config/load.js';
import type { VirtualServerConfig } from '../../src/config/schema.js';
import { desiredTable } from '../../src/ipvs/desired.js';
import { diff } from '../../src/ipvs/diff.js';
import { destKey, NO_FLAGS, serviceKey, type Destination, type Service } from '../../src/ipvs/model.js';

async function servers(file: string): Promise<VirtualServerConfig[]> {
  const r = await loadConfig(file);
  if (!r.ok) throw new Error(r.error.map(formatIssue).join('\n'));
  return r.value.virtualServers;
}

function parse(yaml: string): VirtualServerConfig[] {
  const r = parseConfig(`vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\n${yaml}`, 'inline.yaml');
  if (!r.ok) throw new Error(r.error.map(formatIssue).join('\n'));
  return r.value.virtualServers;
}

const plain = (s: Service) => ({ ...s, dests: [...s.dests.entries()] });

const dest = (address: string, port: number, o: Partial<Destination> = {}): Destination => ({
  family: address.includes(':') ? 6 : 4, address, port, forward: 'route', weight: 1, upperThreshold: 0, lowerThreshold: 0,
  tunnelType: 'ipip', tunnelPort: 0, tunnelFlags: 'nocsum', ...o,
});

test('conf/duet.yaml: one DR service, two weighted destinations', async (t) => {
  const table = desiredTable(await servers('conf/duet.yaml'));
  t.deepEqual([...table.keys()], ['tcp:192.0.2.100:80']);
  t.deepEqual(plain(table.get('tcp:192.0.2.100:80')!), {
    kind: 'addr', family: 4, protocol: 'tcp', address: '192.0.2.100', port: 80, scheduler: 'wrr', flags: NO_FLAGS,
    persistenceTimeoutS: 0, persistenceNetmaskLen: 32,
    dests: [['192.0.2.21:80', dest('192.0.2.21', 80, { weight: 3 })], ['192.0.2.22:80', dest('192.0.2.22', 80)]],
  });
});

test('every feature: keys in config order, flags, persistence, tunnels', async (t) => {
  const table = desiredTable(await servers('test/fixtures/config/ipvs-full.yaml'));
  t.deepEqual([...table.keys()], [
    'tcp:192.0.2.100:80', 'tcp:192.0.2.100:443', 'udp:192.0.2.100:53', 'fwmark6:10', 'sctp:198.51.100.7:0', 'fwmark6:4294967295',
  ]);
  for (const [k, s] of table) t.is(serviceKey(s), k);
  t.deepEqual(table.get('tcp:192.0.2.100:443')?.flags, { ...NO_FLAGS, persistent: true });
  t.is(table.get('tcp:192.0.2.100:443')?.persistenceNetmaskLen, 24);
  t.deepEqual(table.get('udp:192.0.2.100:53')?.flags, { ...NO_FLAGS, onePacket: true, shFallback: true, shPort: true });
  const mh = table.get('fwmark6:10')!;
  t.deepEqual(mh.flags, { ...NO_FLAGS, persistent: true, mhFallback: true });
  t.deepEqual([...mh.dests.values()], [
    dest('2001:db8::21', 0, { forward: 'tunnel', tunnelType: 'gue', tunnelPort: 6080, tunnelFlags: 'remcsum' }),
    dest('2001:db8::22', 8080, { forward: 'tunnel', tunnelType: 'gre', tunnelFlags: 'csum' }),
  ]);
  t.deepEqual(diff(table, table, { managed: new Set() }), []);
});

test('weight seam: override or remove per destination, configured weight passed in', async (t) => {
  const seen: string[] = [];
  const table = desiredTable(await servers('conf/duet.yaml'), {
    weight: (svc, d, configured) => {
      seen.push(`${svc} ${d} ${configured}`);
      return d === '192.0.2.22:80' ? 'remove' : 0;
    },
  });
  t.deepEqual(seen, ['tcp:192.0.2.100:80 192.0.2.21:80 3', 'tcp:192.0.2.100:80 192.0.2.22:80 1']);
  t.deepEqual([...table.get('tcp:192.0.2.100:80')!.dests.values()], [dest('192.0.2.21', 80, { weight: 0 })]);
  await t.throwsAsync(async () => desiredTable(await servers('conf/duet.yaml'), { weight: () => -1 }), { message: /out of range/ });
});

test('config edits become minimal ops', (t) => {
  const before = desiredTable(parse(`virtual_servers:
  - address: 192.0.2.100
    port: 80
    scheduler: wrr
    lb_kind: dr
    real_servers: [{ address: 192.0.2.21 }, { address: 192.0.2.22 }, { address: 192.0.2.23 }]
  - { fwmark: 7, lb_kind: nat, real_servers: [{ address: 10.0.0.7 }] }
`));
  const after = desiredTable(parse(`virtual_servers:
  - address: 192.0.2.100
    port: 80
    scheduler: rr
    lb_kind: dr
    real_servers: [{ address: 192.0.2.21, weight: 5 }, { address: 192.0.2.23 }, { address: 192.0.2.24 }]
`));
  const ops = diff(after, before, { managed: new Set(before.keys()) });
  t.deepEqual(ops.map((o) => `${o.op} ${serviceKey(o.svc)}${'dest' in o ? ` ${destKey(o.dest)}` : ''}`), [
    'edit-svc tcp:192.0.2.100:80',
    'add-dest tcp:192.0.2.100:80 192.0.2.24:80',
    'edit-dest tcp:192.0.2.100:80 192.0.2.21:80',
    'del-dest tcp:192.0.2.100:80 192.0.2.22:80',
    'del-svc fwmark:7',
  ]);
});
