import test from 'ava';
import { FakeClock } from '../fakes/fake-clock.js';
import { scheduleAnnouncements } from '../../src/daemon/announce.js';

test('announce: burst now, second burst after delay, refresh, and cancel stops everything', (t) => {
  const clock = new FakeClock(1000);
  const sent: number[] = [];
  const cancel = scheduleAnnouncements(clock, { repeat: 3, intervalMs: 10, delayMs: 5000, refreshMs: 60000 }, () => sent.push(clock.now() - 1000));
  clock.advance(70000);
  t.deepEqual(sent, [0, 10, 20, 5000, 5010, 5020, 60000, 60010, 60020]);
  cancel();
  clock.advance(200000);
  t.is(sent.length, 9);
});

test('announce: repeat 1, no delay, no refresh sends exactly one', (t) => {
  const clock = new FakeClock();
  let n = 0;
  scheduleAnnouncements(clock, { repeat: 1, intervalMs: 0, delayMs: 0, refreshMs: 0 }, () => n++);
  clock.advance(100000);
  t.is(n, 1);
});
