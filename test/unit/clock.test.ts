// The real clock's deadline rule on timer functions that wake early (as Node's may, by up to a
// millisecond, for a fractional deadline): fn never runs before its deadline, and each early
// wake-up re-arms once for the rest, without spinning.
import test from 'ava';
import { timerClock, realClock } from '../../src/core/clock.js';

/** Timers that fire after `fraction` of the requested delay, never less than 1 ms (as Node). */
function earlyTimers(fraction: number) {
  let t = 0;
  const queue: { at: number; fn: () => void; id: number }[] = [];
  let seq = 0;
  const sets: number[] = [];
  return {
    now: () => t,
    sets,
    fns: {
      set: (fn: () => void, delayMs: number): number => {
        sets.push(delayMs);
        const id = seq++;
        queue.push({ at: t + Math.max(1, delayMs * fraction), fn, id });
        return id;
      },
      clear: (id: number): void => { const i = queue.findIndex((q) => q.id === id); if (i >= 0) queue.splice(i, 1); },
    },
    /** Run every timer in time order until none is left (or a bound is hit). */
    drain(): void {
      for (let n = 0; n < 100 && queue.length; n++) {
        queue.sort((a, b) => a.at - b.at);
        const q = queue.shift()!;
        t = Math.max(t, q.at);
        q.fn();
      }
    },
  };
}

test('a timer that wakes early re-arms: fn runs at or after the fractional deadline, never before', (t) => {
  const e = earlyTimers(0.5);
  const clock = timerClock(e.now, e.fns);
  const fired: number[] = [];
  clock.at(36.093, () => fired.push(e.now()));
  e.drain();
  t.is(fired.length, 1);
  t.true(fired[0]! >= 36.093, `fired at ${fired[0]}`);
  // 36.093 -> 18.05 -> ... each wake-up at least 1 ms apart: a handful of re-arms, no spin.
  t.true(e.sets.length <= 8, `${e.sets.length} arms`);
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
