// VrrpInstance with an advert thread (realtime.advert_thread), on a fake clock with a recording
// pacer: when the thread is started, fed and stopped, and what still goes through the transport.
import test from 'ava';
import { pino } from 'pino';
import { MemTransport } from '../fakes/mem-transport.js';
import { FakeClock } from '../fakes/fake-clock.js';
import { VrrpInstance, type InstanceSettings } from '../../src/vrrp/instance.js';
import { encodeAdvert, decodeAdvert } from '../../src/vrrp/codec.js';
import type { AdvertPacer, PacerStats, VrrpTransport, TransportRinfo } from '../../src/vrrp/transport.js';
import { IoError } from '../../src/core/errors.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { idleMetricsSource } from '../fakes/metrics-source.js';

/** Records calls in `log` (shared with the VIP operations, for order); "sends" a round per run and per feed. */
class FakePacer implements AdvertPacer {
  runs: { adverts: { payload: Uint8Array; dst: string }[]; intervalMs: number }[] = [];
  feeds = 0;
  closed = false;
  failNext: Error | undefined;
  /** The thread sends nothing any more (feeds change no count). */
  silent = false;
  s: PacerStats = { sent: 0, errors: 0, lastError: undefined, lapses: 0, sinceLastSendMs: undefined };
  private n = 0;
  constructor(private readonly log: string[]) {}
  run(adverts: readonly { payload: Uint8Array; dst: string }[], intervalMs: number): void {
    this.log.push('run');
    if (this.failNext) { const e = this.failNext; this.failNext = undefined; throw e; }
    this.runs.push({ adverts: [...adverts], intervalMs });
    this.n = adverts.length;
    this.s = { ...this.s, sent: this.s.sent + this.n, sinceLastSendMs: 0 };
  }
  feed(): void { this.feeds++; if (!this.silent) this.s = { ...this.s, sent: this.s.sent + this.n, sinceLastSendMs: 0 }; }
  stop(): void { this.log.push('stop'); this.n = 0; }
  stats(): PacerStats { return this.s; }
  close(): void { this.log.push('close'); this.closed = true; }
}

const flush = () => new Promise((r) => setImmediate(r));

function setup(o: Partial<InstanceSettings> = {}) {
  const clock = new FakeClock();
  const transport = new MemTransport();
  const order: string[] = [];
  const pacer = new FakePacer(order);
  const warnings: unknown[] = [];
  const log = pino({ level: 'silent' });
  log.warn = ((obj: unknown) => { warnings.push(obj); }) as typeof log.warn;
  const inst = new VrrpInstance({
    name: 'VI_1', interface: 'eth0', vrid: 51, version: 3, family: 4, priority: 100, adverIntCs: 10,
    preempt: true, preemptDelayMs: 0, authType: 0, authPassword: undefined, vipAddresses: ['192.0.2.100'],
    unicastPeers: [], checksumPseudoHeader: true, checkTtl: true, lenientAddressList: false, ...o,
  }, {
    clock, log, transport: transport as unknown as VrrpTransport, pacer,
    vips: async (op) => { order.push(`vips ${op}`); },
    announce: () => () => {},
    notify: () => {},
  });
  const rinfo = (src = '192.0.2.12'): TransportRinfo => ({ address: src, family: 'IPv4', dst: '224.0.0.18', ifname: 'eth0', ttl: 255 });
  const advert = (priority: number, src = '192.0.2.12') =>
    Buffer.from(encodeAdvert({ version: 3, vrid: 51, priority, maxAdverIntCs: 10, addresses: ['192.0.2.100'] }, { family: 4, src, dst: '224.0.0.18' }));
  const master = async () => { inst.start(); await flush(); clock.advance(361); await flush(); };
  return { clock, transport, pacer, order, warnings, inst, rinfo, advert, master };
}

const priorityOf = (b: Uint8Array) => { const d = decodeAdvert(b, { family: 4, src: '192.0.2.11', dst: '224.0.0.18' }); if (!d.ok) throw new Error(d.error.detail); return d.value.priority; };

test('a master hands its adverts to the thread once and feeds it on every advert tick; nothing goes through the transport', async (t) => {
  const s = setup();
  await s.master();
  t.is(s.inst.state, 'master');
  t.is(s.pacer.runs.length, 1);
  t.is(s.pacer.runs[0]!.intervalMs, 100);
  t.deepEqual(s.pacer.runs[0]!.adverts.map((a) => a.dst), ['224.0.0.18']);
  t.is(priorityOf(s.pacer.runs[0]!.adverts[0]!.payload), 100);
  t.deepEqual(s.order.slice(0, 3), ['vips del', 'vips add', 'run'], 'the VIP add first, then the first advert (sent by run itself)');
  s.clock.advance(300);
  await flush();
  t.is(s.pacer.runs.length, 1, 'the same adverts: no new run');
  t.is(s.pacer.feeds, 3, 'one feed per advert tick');
  t.is(s.transport.sent.length, 0);
  t.is(s.inst.status().counters.advertsSent, 4, 'the thread\'s sends are counted as ours');
  t.is(s.inst.sendProblem(), undefined);
});

test('new adverts (a priority change, an interval change) start the thread again', async (t) => {
  const s = setup();
  await s.master();
  s.inst.setTracking(-20, false);
  t.is(s.pacer.runs.length, 2);
  t.is(priorityOf(s.pacer.runs[1]!.adverts[0]!.payload), 80);
  s.inst.reconfigure({ ...({ name: 'VI_1', interface: 'eth0', vrid: 51, version: 3, family: 4, priority: 100, adverIntCs: 2, preempt: true, preemptDelayMs: 0, authType: 0, authPassword: undefined, vipAddresses: ['192.0.2.100'], unicastPeers: [], checksumPseudoHeader: true, checkTtl: true, lenientAddressList: false } as InstanceSettings) });
  s.clock.advance(100);
  const last = s.pacer.runs.at(-1)!;
  t.is(last.intervalMs, 20, 'the new interval');
});

test('a reload that leaves the adverts alone (only preempt_delay here) keeps the thread\'s cadence: no new run, feeds go on', async (t) => {
  const s = setup();
  await s.master();
  s.inst.reconfigure({ name: 'VI_1', interface: 'eth0', vrid: 51, version: 3, family: 4, priority: 100, adverIntCs: 10, preempt: true, preemptDelayMs: 5000, authType: 0, authPassword: undefined, vipAddresses: ['192.0.2.100'], unicastPeers: [], checksumPseudoHeader: true, checkTtl: true, lenientAddressList: false });
  s.clock.advance(300);
  t.is(s.pacer.runs.length, 1);
  t.is(s.pacer.feeds, 3);
});

test('leaving master stops the thread before anything else (the VIP removal)', async (t) => {
  const s = setup();
  await s.master();
  s.order.length = 0;
  s.inst.receive(s.advert(200), s.rinfo());
  await flush();
  t.is(s.inst.state, 'backup');
  t.deepEqual(s.order, ['stop', 'vips del']);
  s.clock.advance(200);
  t.is(s.pacer.feeds, 0, 'a backup feeds nothing');
});

test('a stop: the thread is stopped, the priority-0 advert goes through the transport, then the pacer is closed', async (t) => {
  const s = setup();
  await s.master();
  s.order.length = 0;
  const stopped = s.inst.stop();
  t.deepEqual(s.order, ['stop'], 'silent before the priority-0 advert; the VIPs kept (make-before-break)');
  s.inst.receive(s.advert(90), s.rinfo());
  await stopped;
  t.deepEqual(s.order, ['stop', 'vips del', 'close']);
  t.is(s.transport.sent.length, 1);
  t.is(priorityOf(s.transport.sent[0]!.bytes), 0);
  t.true(s.pacer.closed);
});

test('a restart stop (keep): the last normal advert goes through the transport, the thread is stopped first', async (t) => {
  const s = setup();
  await s.master();
  s.order.length = 0;
  await s.inst.stop(true);
  t.is(s.order[0], 'stop');
  t.is(s.transport.sent.length, 1);
  t.is(priorityOf(s.transport.sent[0]!.bytes), 100);
});

test('the thread cannot send: this advert goes through the transport, and the next tick tries the thread again', async (t) => {
  const s = setup();
  s.pacer.failNext = new IoError('advert thread send on eth0: sendto: Network is down');
  await s.master();
  t.is(s.transport.sent.length, 1, 'the first advert through the transport');
  t.true(s.warnings.some((w) => JSON.stringify(w).includes('Network is down')));
  s.clock.advance(100);
  t.is(s.pacer.runs.length, 1, 'the next advert through the thread');
  t.is(s.transport.sent.length, 1);
});

test('the thread\'s send errors are counted and logged; a thread that stopped sending shows in the watchdog', async (t) => {
  const s = setup();
  await s.master();
  s.pacer.s = { ...s.pacer.s, errors: 3, lastError: 'ENOBUFS' };
  t.is(s.inst.status().counters.sendErrors, 3);
  t.true(s.warnings.some((w) => JSON.stringify(w).includes('ENOBUFS')));
  t.is(s.inst.sendProblem(), undefined);
  s.pacer.silent = true;
  s.clock.advance(2000);
  t.regex(s.inst.sendProblem() ?? '', /no advert sent for 2000 ms \(3 send errors\)/);
});

test('a lapse of the lease is logged once per lapse', async (t) => {
  const s = setup();
  await s.master();
  s.pacer.s = { ...s.pacer.s, lapses: 1 };
  s.inst.status();
  s.inst.status();
  t.is(s.warnings.filter((w) => JSON.stringify(w).includes('"lapses":1')).length, 1);
  t.is(s.inst.status().counters.advertThreadLapses, 1, 'counted (duet_vrrp_advert_thread_lapses_total)');
  const m = createMetrics(idleMetricsSource({ status: () => ({ instances: [s.inst.status()], sockets: [], operator: {}, checkWorker: undefined }) as never }), { ipvsCacheMs: () => 0, now: () => 0 });
  t.teardown(() => m.close());
  t.regex(await m.text(), /^duet_vrrp_advert_thread_lapses_total\{vrrp_instance="VI_1"\} 1$/m);
});

test('without a pacer the instance has no lapse counter (and no such series)', (t) => {
  const clock = new FakeClock();
  const inst = new VrrpInstance({
    name: 'VI_1', interface: 'eth0', vrid: 51, version: 3, family: 4, priority: 100, adverIntCs: 10,
    preempt: true, preemptDelayMs: 0, authType: 0, authPassword: undefined, vipAddresses: ['192.0.2.100'],
    unicastPeers: [], checksumPseudoHeader: true, checkTtl: true, lenientAddressList: false,
  }, { clock, log: pino({ level: 'silent' }), transport: new MemTransport() as unknown as VrrpTransport, vips: async () => {}, announce: () => () => {}, notify: () => {} });
  t.is(inst.status().counters.advertThreadLapses, undefined);
});

test('operator failover: priority 0 goes through the transport and the thread is silent', async (t) => {
  const s = setup();
  await s.master();
  s.inst.handOver();
  t.is(s.order.at(-1), 'stop');
  t.true(s.transport.sent.length >= 1);
  t.is(priorityOf(s.transport.sent.at(-1)!.bytes), 0);
});
