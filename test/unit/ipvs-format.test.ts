// The listing matches ipvsadm 1.31's output byte for byte (captured from a real kernel in the VM
// by scripts/vm/capture-ipvsadm-listing.sh) for the same table.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { formatTable, type ListView } from '../../src/ipvs/format.js';
import { NO_FLAGS, serviceKey, destKey, type Destination, type Service, type ServiceFlags, type Table } from '../../src/ipvs/model.js';

const dest = (address: string, port: number, forward: Destination['forward'], weight: number, o: Partial<Destination> = {}): Destination => ({
  family: address.includes(':') ? 6 : 4, address, port, forward, weight, upperThreshold: 0, lowerThreshold: 0,
  tunnelType: 'ipip', tunnelPort: 0, tunnelFlags: 'nocsum', ...o,
});
type NoDests<S> = S extends unknown ? Omit<S, 'dests'> : never;
const withDests = (s: NoDests<Service>, ds: Destination[]): Service =>
  ({ ...s, dests: new Map(ds.map((d) => [destKey(d), d])) }) as unknown as Service;
const flags = (f: Partial<ServiceFlags>): ServiceFlags => ({ ...NO_FLAGS, ...f });

// The table the capture script built, in the order the kernel dumped it.
const services: Service[] = [
  withDests({ kind: 'addr', family: 4, protocol: 'tcp', address: '192.0.2.100', port: 80, scheduler: 'rr', flags: NO_FLAGS, persistenceTimeoutS: 0, persistenceNetmaskLen: 32 },
    [dest('192.0.2.21', 80, 'masq', 1), dest('192.0.2.22', 8080, 'masq', 3, { upperThreshold: 100, lowerThreshold: 50 })]),
  withDests({ kind: 'addr', family: 4, protocol: 'tcp', address: '192.0.2.100', port: 443, scheduler: 'wrr', flags: flags({ persistent: true }), persistenceTimeoutS: 300, persistenceNetmaskLen: 24 },
    [dest('192.0.2.21', 443, 'route', 0)]),
  withDests({ kind: 'addr', family: 4, protocol: 'udp', address: '192.0.2.100', port: 53, scheduler: 'sh', flags: flags({ shPort: true, shFallback: true, onePacket: true }), persistenceTimeoutS: 0, persistenceNetmaskLen: 32 },
    [dest('192.0.2.23', 53, 'tunnel', 2)]),
  withDests({ kind: 'addr', family: 4, protocol: 'sctp', address: '192.0.2.100', port: 9, scheduler: 'rr', flags: NO_FLAGS, persistenceTimeoutS: 0, persistenceNetmaskLen: 32 }, []),
  withDests({ kind: 'addr', family: 6, protocol: 'tcp', address: '2001:db8::100', port: 80, scheduler: 'wlc', flags: flags({ persistent: true }), persistenceTimeoutS: 60, persistenceNetmaskLen: 64 },
    [dest('2001:db8::21', 80, 'masq', 1)]),
  withDests({ kind: 'fwmark', family: 4, fwmark: 10, scheduler: 'mh', flags: flags({ mhFallback: true }), persistenceTimeoutS: 0, persistenceNetmaskLen: 32 },
    [dest('192.0.2.24', 0, 'route', 1)]),
];
// Given in reverse (and dests reversed): the listing sorts as ipvsadm does.
const table: Table = new Map([...services].reverse().map((s) => [serviceKey(s), { ...s, dests: new Map([...s.dests].reverse()) } as Service]));
const info = { version: '1.2.1', connTabSize: 4096 };

for (const [view, file] of [['plain', 'list-Ln'], ['stats', 'list-Ln-stats'], ['rate', 'list-Ln-rate'], ['thresholds', 'list-Ln-thresholds'], ['persistent-conn', 'list-Ln-persistent-conn']] as [ListView, string][]) {
  test(`formatTable ${view} equals ipvsadm's ${file}`, (t) => {
    t.is(formatTable(info, table, undefined, view), readFileSync(`test/vectors/ipvs/${file}.txt`, 'utf8'));
  });
}

test('large counters use ipvsadm K/M/G units', (t) => {
  const one = new Map([...table].slice(-1));
  const key = [...one.keys()][0]!;
  const st = { conns: 123456789, inpkts: 99999999, outpkts: 5e10, inbytes: 2e12, outbytes: 3e15, cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 };
  const out = formatTable(info, one, new Map([[key, { stats: st, dests: new Map() }]]), 'stats').split('\n')[3]!;
  t.is(out, 'TCP  192.0.2.100:80'.padEnd(33) + '  123456K' + ' 99999999' + '   50000M' + '    2000G' + '    3000T');
});

// The view the daemon sends for `duet ipvs list` (JSON over the control socket) prints exactly
// what the kernel's table prints directly.
test('a table through the JSON view and back formats the same, stats included', async (t) => {
  const { viewTables } = await import('../../src/ipvs/kernel-view.js');
  const st = { conns: 12, inpkts: 3400, outpkts: 0, inbytes: 5_600_000, outbytes: 0, cps: 1, inpps: 2, outpps: 0, inbps: 300, outbps: 0 };
  const stats = new Map([...table].map(([k, s]) => [k, { stats: st, dests: new Map([...s.dests.keys()].map((dk) => [dk, { ...st, activeConns: 3, inactConns: 4, persistConns: 0 }])) }]));
  const view = {
    version: info.version, connTabSize: info.connTabSize, unmapped: [],
    services: [...table].map(([key, s]) => ({ key, ...s, dests: [...s.dests].map(([dk, d]) => ({ key: dk, ...d, stats: stats.get(key)?.dests.get(dk) })), stats: stats.get(key)?.stats })),
  };
  const back = viewTables(JSON.parse(JSON.stringify(view)));
  for (const v of ['plain', 'stats', 'rate', 'thresholds', 'persistent-conn'] as const) {
    t.is(formatTable(back.info, back.table, back.stats, v), formatTable(info, table, stats, v), v);
  }
});
