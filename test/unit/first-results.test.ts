// FirstResults on a fake clock: one summary once first results stop coming (quiet for QUIET_MS),
// or at the latest MAX_MS after the first; down ones named up to MAX_NAMED; done() flushes.
import test from 'ava';
import { FirstResults, MAX_MS, MAX_NAMED, QUIET_MS, type FirstResultsSummary } from '../../src/daemon/first-results.js';
import { FakeClock } from '../fakes/fake-clock.js';

function setup() {
  const clock = new FakeClock(5000);
  const out: FirstResultsSummary[] = [];
  return { clock, out, fr: new FirstResults(clock, (s) => out.push(s)) };
}

test('a burst is one summary, logged once the results stop coming', (t) => {
  const { clock, out, fr } = setup();
  for (let i = 0; i < 50; i++) { fr.add(i % 10 !== 3, () => `c${i}`); clock.advance(20); }
  t.deepEqual(out, [], 'not while they keep coming');
  clock.advance(QUIET_MS);
  t.deepEqual(out, [{ up: 45, down: 5, downNamed: ['c3', 'c13', 'c23', 'c33', 'c43'], downMore: 0, spanMs: 980 }]);
  // A later batch (a reload adds checks) is a summary of its own.
  fr.add(true, () => 'x');
  clock.advance(QUIET_MS);
  t.is(out.length, 2);
  t.like(out[1], { up: 1, down: 0, spanMs: 0 });
});

test('down ones are named up to the bound; names are only built for them', (t) => {
  const { clock, out, fr } = setup();
  let built = 0;
  for (let i = 0; i < MAX_NAMED + 7; i++) fr.add(false, () => { built++; return `d${i}`; });
  fr.add(true, () => { built++; return 'never'; });
  clock.advance(QUIET_MS);
  t.is(out[0]!.downNamed.length, MAX_NAMED);
  t.is(out[0]!.downMore, 7);
  t.is(out[0]!.down, MAX_NAMED + 7);
  t.is(built, MAX_NAMED);
});

test('results that never stop are summarized at MAX_MS; done() flushes what is pending', (t) => {
  const { clock, out, fr } = setup();
  for (let ms = 0; ms < MAX_MS + 500; ms += 100) { fr.add(true, () => ''); clock.advance(100); }
  t.is(out.length, 1);
  t.true(out[0]!.spanMs <= MAX_MS);
  fr.done();
  t.is(out.length, 2);
  fr.done();
  t.is(out.length, 2, 'nothing pending: nothing logged');
});
