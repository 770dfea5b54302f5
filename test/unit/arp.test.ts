import test from 'ava';
import { buildGarp, parseArp } from '../../src/vrrp/garp.js';

test('parseArp reads back what buildGarp writes', (t) => {
  t.deepEqual(parseArp(buildGarp('192.0.2.100', '02:AB:00:00:00:09')),
    { op: 1, senderMac: '02:ab:00:00:00:09', senderIp: '192.0.2.100', targetIp: '192.0.2.100' });
});

test('parseArp takes a reply and ignores trailing padding (frames are padded to 60 bytes)', (t) => {
  const b = Buffer.concat([buildGarp('10.0.0.1', '02:00:00:00:00:01'), Buffer.alloc(18)]);
  b.writeUInt16BE(2, 6);
  b.set([10, 0, 0, 2], 24);
  t.like(parseArp(b), { op: 2, senderIp: '10.0.0.1', targetIp: '10.0.0.2' });
});

test('parseArp refuses what is not Ethernet/IPv4 ARP', (t) => {
  const g = buildGarp('192.0.2.1', '02:00:00:00:00:01');
  t.is(parseArp(g.subarray(0, 27)), undefined, 'short');
  t.is(parseArp(new Uint8Array(0)), undefined, 'empty');
  const other = (off: number, v: number): Buffer => { const b = Buffer.from(g); b[off] = v; return b; };
  t.is(parseArp(other(1, 6)), undefined, 'hardware type IEEE 802');
  t.is(parseArp(other(2, 0x86)), undefined, 'protocol not IPv4');
  t.is(parseArp(other(4, 8)), undefined, 'hardware length 8');
  t.is(parseArp(other(5, 16)), undefined, 'protocol length 16');
});
