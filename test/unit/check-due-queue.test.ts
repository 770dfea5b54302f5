// The engine's schedule (src/check/due-queue.ts) against a plain sorted list, over random
// sequences of set / move / delete / pop; and the engine arming one timer for all its checks.
import test from 'ava';
import fc from 'fast-check';
import { DueQueue, type Due } from '../../src/check/due-queue.js';
import { CheckEngine } from '../../src/check/engine.js';
import type { CheckedService } from '../../src/check/types.js';
import type { Clock } from '../../src/core/clock.js';

interface Item extends Due { id: number }

type Op = { kind: 'set'; id: number; due: number } | { kind: 'delete'; id: number } | { kind: 'pop'; now: number };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), id: fc.integer({ min: 0, max: 15 }), due: fc.integer({ min: 0, max: 20 }) }),
  fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 15 }) }),
  fc.record({ kind: fc.constant('pop' as const), now: fc.integer({ min: 0, max: 20 }) }),
);

test('due queue: pops what a sorted list would (earliest first, ties in scheduling order); moves and deletes anywhere', (t) => {
  t.notThrows(() => fc.assert(fc.property(fc.array(arbOp, { maxLength: 200 }), (ops) => {
    const q = new DueQueue<Item>();
    const items = Array.from({ length: 16 }, (_, id): Item => ({ id, due: 0, slot: -1, order: 0 }));
    // The reference: [due, order, id] of every queued item.
    let ref: Array<[number, number, number]> = [];
    let seq = 0;
    for (const op of ops) {
      if (op.kind === 'set') {
        ref = ref.filter((e) => e[2] !== op.id).concat([[op.due, seq++, op.id]]);
        q.set(items[op.id]!, op.due);
      } else if (op.kind === 'delete') {
        ref = ref.filter((e) => e[2] !== op.id);
        q.delete(items[op.id]!);
        if (items[op.id]!.slot !== -1) return false;
      } else {
        ref.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        const want = ref[0] !== undefined && ref[0][0] <= op.now ? ref.shift()![2] : undefined;
        if (q.popDue(op.now)?.id !== want) return false;
      }
      if (q.size !== ref.length) return false;
    }
    // Draining gives the rest in order.
    ref.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const rest: number[] = [];
    for (let x = q.popDue(Infinity); x; x = q.popDue(Infinity)) rest.push(x.id);
    return JSON.stringify(rest) === JSON.stringify(ref.map((e) => e[2])) && items.every((i) => i.slot === -1);
  }), { numRuns: 500 }));
});

test('engine: one timer for all its checks, for the earliest due; none left after stop', async (t) => {
  let now = 0;
  const armed = new Set<{ ms: number; fn: () => void }>();
  const clock: Clock = { now: () => now, at: (ms, fn) => { const e = { ms, fn }; armed.add(e); return () => { armed.delete(e); }; } };
  const spec = { type: 'tcp' as const, timeoutMs: 500, target: { family: 4 as const, address: '192.0.2.21', port: 80 } };
  const svc: CheckedService = {
    name: 'web', kind: 'addr', protocol: 'tcp', address: '192.0.2.100', family: 4, port: 80, slowStartMs: 0, quorum: 1, hysteresis: 0,
    realServers: Array.from({ length: 50 }, (_, i) => ({
      family: 4 as const, address: `192.0.2.${i + 1}`, port: 80, weight: 1, inhibitOnFailure: false,
      checks: [{ spec: { ...spec, target: { ...spec.target, address: `192.0.2.${i + 1}` } }, intervalMs: 1000, retryDelayMs: 1000, rise: 1, fall: 1 }],
    })),
  };
  const starts: Array<[number, string]> = [];
  let r = 0;
  const engine = new CheckEngine({
    clock, onEvent: () => {}, random: () => ((r++ * 37) % 50) / 50,
    run: (s) => { starts.push([now, s.type === 'tcp' ? s.target.address : '']); return Promise.resolve({ ok: true, latencyMs: 1, reason: 'connected' }); },
  });
  engine.configure([svc]);
  t.is(armed.size, 1, 'one timer for 50 checks');
  const first = [...armed][0]!;
  t.is(first.ms, 0, 'armed for the earliest');
  // Run the timer late (at 500): every check due by then starts, in due order, and the timer is
  // re-armed for the next one.
  for (let round = 0; round < 3; round++) {
    const e = [...armed].sort((a, b) => a.ms - b.ms)[0]!;
    armed.delete(e);
    now = round === 0 ? 500 : e.ms;
    e.fn();
    await new Promise((res) => setImmediate(res));
    t.true(armed.size <= 1, 'still at most one timer');
  }
  t.deepEqual(starts.slice(0, 26).map((s) => s[0]), new Array<number>(26).fill(500), 'the 26 due by 500 start together');
  t.is(engine.timing().runs, starts.length);
  engine.stop();
  t.is(armed.size, 0, 'stop leaves no timer');
});
