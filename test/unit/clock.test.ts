// The real clock's deadline rule on timer functions that wake early (as Node's may, by up to a
// millisecond, for a fractional deadline): fn never runs before its deadline, and each early
// wake-up re-arms once for the rest, without spinning.
import test from 'ava';
import { timerClock, realClock, SPIN_MS } from '../../src/core/clock.js';

/**
 * Fake timer functions: a timer asked for `delayMs` fires `fire(delayMs)` later; soon() costs a
 * loop turn of `turnMs`. log: 'set <delay>' and 'soon', in order.
 */
function fakeTimers(fire: (delayMs: number) => number, turnMs = 0.01) {
  let t = 0;
  const queue: { at: number; fn: () => void; id: number }[] = [];
  let seq = 0;
  const log: string[] = [];
  const push = (at: number, fn: () => void): number => { const id = seq++; queue.push({ at, fn, id }); return id; };
  const drop = (id: number): void => { const i = queue.findIndex((q) => q.id === id); if (i >= 0) queue.splice(i, 1); };
  return {
    now: () => t,
    log,
    sets: () => log.filter((l) => l.startsWith('set')).length,
    fns: {
      set: (fn: () => void, delayMs: number): number => { log.push(`set ${delayMs.toFixed(3)}`); return push(t + fire(delayMs), fn); },
      clear: drop,
      soon: (fn: () => void): (() => void) => { log.push('soon'); const id = push(t + turnMs, fn); return () => drop(id); },
    },
    /** Run every timer in time order until none is left (or a bound is hit). */
    drain(): void {
      for (let n = 0; n < 1000 && queue.length; n++) {
        queue.sort((x, y) => x.at - y.at);
        const q = queue.shift()!;
        t = Math.max(t, q.at);
        q.fn();
      }
    },
  };
}

/** Timers that fire after `fraction` of the requested delay, never less than 1 ms (as Node). */
const earlyTimers = (fraction: number) => fakeTimers((d) => Math.max(1, d * fraction));
/** Timers that fire `lateMs` after the requested delay (as Node's may). */
const lateTimers = (lateMs: number) => fakeTimers((d) => d + lateMs);

test('a timer that wakes early re-arms: fn runs at or after the fractional deadline, never before', (t) => {
  const e = earlyTimers(0.5);
  const clock = timerClock(e.now, e.fns);
  const fired: number[] = [];
  clock.at(36.093, () => fired.push(e.now()));
  e.drain();
  t.is(fired.length, 1);
  t.true(fired[0]! >= 36.093, `fired at ${fired[0]}`);
  // 36.093 -> 18.05 -> ... each wake-up at least 1 ms apart: a handful of re-arms, no spin.
  t.true(e.sets() <= 8, `${e.sets()} arms`);
});

test('cancel stops a re-armed timer too', (t) => {
  const e = earlyTimers(0.5);
  const clock = timerClock(e.now, e.fns);
  let fired = 0;
  const cancel = clock.at(10, () => { fired++; });
  // Let the first, early wake-up happen (it re-arms), then cancel.
  e.fns.set(() => cancel(), 5.5);
  e.drain();
  t.is(fired, 0);
});

test('the real clock runs fn at or after a fractional deadline', async (t) => {
  const due = realClock.now() + 2.5;
  const at = await new Promise<number>((resolve) => realClock.at(due, () => resolve(realClock.now())));
  t.true(at >= due, `${at - due} ms`);
});

test('a precise deadline is kept to a loop turn although timers wake 1.5 ms late; a plain one is late', (t) => {
  const late = lateTimers(1.5);
  const clock = timerClock(late.now, late.fns);
  const fired: number[] = [];
  clock.at(360.937, () => fired.push(late.now()), { precise: true });
  late.drain();
  t.is(fired.length, 1);
  t.true(fired[0]! >= 360.937 && fired[0]! - 360.937 <= 0.01 + 1e-9, `fired ${(fired[0]! - 360.937).toFixed(3)} ms after`);
  t.is(late.log[0], `set ${(360.937 - SPIN_MS).toFixed(3)}`, 'the timer is set SPIN_MS short');
  t.true(late.log.filter((l) => l === 'soon').length <= Math.ceil(SPIN_MS / 0.01) + 1, 'the spin is bounded by SPIN_MS of turns');

  const plain = lateTimers(1.5);
  const c2 = timerClock(plain.now, plain.fns);
  const f2: number[] = [];
  c2.at(360.937, () => f2.push(plain.now()));
  plain.drain();
  t.true(f2[0]! - 360.937 >= 1.5 - 1e-9, 'without precise the timer\'s lateness shows');
  t.false(plain.log.includes('soon'));
});

test('cancelling a precise deadline during its spin stops it', (t) => {
  const late = lateTimers(0);
  const clock = timerClock(late.now, late.fns);
  let fired = 0;
  const cancel = clock.at(10, () => { fired++; }, { precise: true });
  late.fns.set(() => cancel(), 9);
  late.drain();
  t.is(fired, 0);
  t.true(late.log.includes('soon'), 'it was spinning');
});

// How close to the deadline it runs is a figure for the failover bench (a loaded machine can
// take the CPU for tens of ms at any moment), not for a timed unit test: here, never early.
test('the real clock runs a precise fn at or after its deadline, never before', async (t) => {
  for (let i = 0; i < 3; i++) {
    const due = realClock.now() + 3.3;
    const at = await new Promise<number>((resolve) => realClock.at(due, () => resolve(realClock.now()), { precise: true }));
    t.true(at >= due, `${at - due} ms`);
  }
});
