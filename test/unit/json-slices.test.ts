// stringifyInSlices: the same text as JSON.stringify, with a turn of the loop between slices of
// long arrays.
import test from 'ava';
import fc from 'fast-check';
import { stringifyInSlices } from '../../src/control/json-slices.js';

test('the same text as JSON.stringify for any JSON-like value (long arrays included)', async (t) => {
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.constantFrom(null, true, false, undefined, Number.NaN, -0, Infinity),
      fc.double(), fc.integer(), fc.string({ unit: 'binary' }),
      fc.array(tie('v'), { maxLength: 40 }),
      fc.dictionary(fc.string(), tie('v'), { maxKeys: 6 }),
      fc.constant(new Date(0)), fc.constant(() => 1), fc.constant({ toJSON: () => 'x' }),
    ),
  })).v;
  await t.notThrowsAsync(fc.assert(fc.asyncProperty(value, fc.integer({ min: 1, max: 50 }), async (v, slice) => {
    const got = await stringifyInSlices(v, { slice, turn: () => Promise.resolve() });
    return got === (JSON.stringify(v) ?? '');
  }), { numRuns: 400 }));
});

test('long arrays are cut into slices, one turn each; short replies need no turn', async (t) => {
  let turns = 0;
  const turn = (): Promise<void> => { turns++; return Promise.resolve(); };
  const reply = { ok: true, result: { services: [{ name: 'web', servers: Array.from({ length: 1000 }, (_, i) => ({ server: `10.0.0.${i}`, checks: [{ health: 'up' }] })) }] } };
  t.is(await stringifyInSlices(reply, { slice: 100, turn }), JSON.stringify(reply));
  t.true(turns >= 9 && turns <= 10, `${turns} turns`);
  turns = 0;
  t.is(await stringifyInSlices({ ok: true, result: { a: [1, 2, 3] } }, { slice: 100, turn }), '{"ok":true,"result":{"a":[1,2,3]}}');
  t.is(turns, 0);
});
