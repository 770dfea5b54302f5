// `duet ipvs conns` = parse /proc/net/ip_vs_conn + format like ipvsadm -Lnc. The fixtures were
// captured in the VM (Debian 6.1 kernel, ipvsadm 1.31) from the NAT lab of test/vm/conns.test.ts:
// /proc/net/ip_vs_conn read, then ipvsadm -Lnc, ipvsadm -Lnc --persistent-conn, then /proc read
// again, repeated until both /proc reads were identical, so all three show the same second and
// the comparison is byte for byte, expire column included.
//   conns-nat.proc.txt   /proc/net/ip_vs_conn
//   conns-nat.lnc.txt    ipvsadm -Lnc
//   conns-nat.lncp.txt   ipvsadm -Lnc --persistent-conn
//   conns-nat.sync.txt   /proc/net/ip_vs_conn_sync (one second later; has an Origin column)
import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseConns, formatConns, formatExpire, ConnParseError, type ConnEntry } from '../../src/ipvs/conns.js';

const vec = (name: string): string => readFileSync(`test/vectors/ipvs/conns-${name}.txt`, 'utf8');

test('ipvsadm -Lnc byte for byte from the /proc text read in the same second', (t) => {
  t.is(formatConns(parseConns(vec('nat.proc'))), vec('nat.lnc'));
});

test('ipvsadm -Lnc --persistent-conn byte for byte', (t) => {
  t.is(formatConns(parseConns(vec('nat.proc')), { persistentConn: true }), vec('nat.lncp'));
});

test('typed entries: IPv4 hex, IPv6 full form, ports, state, expire, template', (t) => {
  const es = parseConns(vec('nat.proc'));
  t.is(es.length, 7);
  t.deepEqual(es[0], {
    protocol: 'TCP', state: 'CLOSE', expireS: 8,
    client: { family: 4, address: '10.0.1.2', port: 0xe584 },
    virtual: { family: 4, address: '10.0.1.1', port: 81 },
    destination: { family: 4, address: '10.0.2.2', port: 9 },
  });
  t.deepEqual(es[2]!.client, { family: 6, address: 'fd00:1::2', port: 0xb716 });
  t.deepEqual(es[2]!.destination, { family: 6, address: 'fd00:2::2', port: 8080 });
  const tpl = es.find((e) => e.state === 'ASSURED')!;
  t.is(tpl.client.port, 0);
  t.is(tpl.virtual.port, 443);
  const udp = es.find((e) => e.protocol === 'UDP')!;
  t.is(udp.destination.port, 5353);
  t.is(udp.expireS, 298);
});

test('ip_vs_conn_sync (Origin column) gives the same connections', (t) => {
  const a = parseConns(vec('nat.proc'));
  const b = parseConns(vec('nat.sync'));
  const strip = (es: ConnEntry[]): unknown[] => es.map(({ expireS: _e, ...r }) => r);
  t.deepEqual(strip(b), strip(a));
  t.deepEqual(b.map((e) => e.expireS), a.map((e) => e.expireS - 1));
});

test('empty table: only the headers', (t) => {
  const text = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n';
  t.deepEqual(parseConns(text), []);
  t.is(formatConns([]), 'IPVS connection entries\npro expire state       source             virtual            destination\n');
});

// Synthetic (no sip traffic was captured): the layout follows ipvsadm.c print_conn for n == 11.
test('persistence-engine data: parsed, and printed only with --persistent-conn', (t) => {
  const line = 'UDP 0A000102 13C4 0A000101 13C4 0A000202 13C4 UDP             178 sip 6162634064656600\n';
  const [e] = parseConns(line);
  t.is(e!.peName, 'sip');
  t.is(e!.peData, '6162634064656600');
  const rows = (o: { persistentConn?: boolean }): string => formatConns([e!], o).split('\n')[2]!;
  t.is(rows({}), 'UDP 02:58  UDP         10.0.1.2:5060      10.0.1.1:5060      10.0.2.2:5060');
  t.is(rows({ persistentConn: true }), 'UDP 02:58  UDP         10.0.1.2:5060      10.0.1.1:5060      10.0.2.2:5060    sip                6162634064656600');
});

test('mixed family: an IPv6 destination behind an IPv4 service is formatted by its own family', (t) => {
  const [e] = parseConns('TCP 0A000102 A0D6 0A000101 0050 fd00:0002:0000:0000:0000:0000:0000:0002 1F90 ESTABLISHED     898\n');
  t.deepEqual(e!.destination, { family: 6, address: 'fd00:2::2', port: 8080 });
  t.regex(formatConns([e!]), /10\.0\.1\.1:80 {8}\[fd00:2::2\]:8080\n$/);
});

test('expire: MM:SS, minutes past 99', (t) => {
  t.is(formatExpire(0), '00:00');
  t.is(formatExpire(898), '14:58');
  t.is(formatExpire(6000), '100:00');
});

test('malformed rows are reported with their line number', (t) => {
  const bad = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\nTCP 0A00010 A0D6 0A000101 0050 0A000202 1F90 ESTABLISHED 898\n';
  const err = t.throws(() => parseConns(bad), { instanceOf: ConnParseError });
  t.is(err!.line, 2);
  t.throws(() => parseConns('TCP 0A000102 A0D6 0A000101\n'), { instanceOf: ConnParseError });
  t.throws(() => parseConns('TCP 0A000102 A0D6 0A000101 0050 0A000202 1F90 ESTABLISHED soon\n'), { instanceOf: ConnParseError });
});
