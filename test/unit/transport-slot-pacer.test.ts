// TransportSlot.openPacer: the pacer follows the slot's socket (a recreated interface gets a new
// socket and a new advert thread; a link down closes the thread), and its counts add up.
import test from 'ava';
import { pino } from 'pino';
import { FakeClock } from '../fakes/fake-clock.js';
import { MemTransport } from '../fakes/mem-transport.js';
import { TransportSlot } from '../../src/daemon/transport-slot.js';
import type { AdvertPacer, PacerStats, VrrpTransport } from '../../src/vrrp/transport.js';

class Native implements AdvertPacer {
  runs = 0;
  closed = false;
  s: PacerStats = { sent: 0, errors: 0, lastError: undefined, lapses: 0, sinceLastSendMs: undefined };
  run(): void { this.runs++; this.s = { ...this.s, sent: this.s.sent + 1, sinceLastSendMs: 0 }; }
  feed(): void {}
  stop(): void {}
  stats(): PacerStats { return this.s; }
  close(): void { this.closed = true; }
}

class PacingTransport extends MemTransport {
  natives: Native[] = [];
  openPacer(): AdvertPacer { const n = new Native(); this.natives.push(n); return n; }
}

const flush = () => new Promise((r) => setImmediate(r));
const ADV = [{ payload: new Uint8Array(8), dst: '224.0.0.18' }];

test('a pacer on the socket of the moment: reopened after the interface is recreated, closed when the link goes down', async (t) => {
  const opened: PacingTransport[] = [];
  const slot = new TransportSlot({ ifname: 'eth0', family: 4, kind: 'raw', udpPort: 0, srcAddress: undefined, unicast: false }, {
    clock: new FakeClock(), log: pino({ level: 'silent' }), changed: () => {},
    open: async () => { const x = new PacingTransport(); opened.push(x); return x as unknown as VrrpTransport; },
  });
  slot.link({ index: 1, up: true });
  await slot.ready();
  const p = slot.openPacer({ leaseMs: 500 });
  p.run(ADV, 10);
  p.run(ADV, 10);
  t.is(opened[0]!.natives.length, 1, 'one thread per socket');
  t.is(p.stats().sent, 2);

  slot.link({ index: 2, up: true }); // recreated
  t.true(opened[0]!.natives[0]!.closed, 'the old socket\'s thread stops with it');
  await slot.ready();
  await flush();
  p.run(ADV, 10);
  t.is(opened[1]!.natives.length, 1, 'a new thread on the new socket');
  t.is(p.stats().sent, 3, 'counts carried over');

  slot.link({ index: 2, up: false });
  t.true(opened[1]!.natives[0]!.closed);
  t.throws(() => p.run(ADV, 10), { message: /no VRRP socket/ });
  t.is(p.stats().sent, 3);
  p.close();
  slot.close();
});

test('a socket that cannot pace (UDP, IPv6): run() says so and the instance sends through the event loop', async (t) => {
  const slot = new TransportSlot({ ifname: 'eth0', family: 4, kind: 'udp', udpPort: 112, srcAddress: undefined, unicast: false }, {
    clock: new FakeClock(), log: pino({ level: 'silent' }), changed: () => {},
    open: async () => new MemTransport() as unknown as VrrpTransport,
  });
  slot.link({ index: 1, up: true });
  await slot.ready();
  t.throws(() => slot.openPacer({ leaseMs: 500 }).run(ADV, 10), { message: /cannot pace/ });
  slot.close();
});
