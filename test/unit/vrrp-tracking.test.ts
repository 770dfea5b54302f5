import test from 'ava';
import { evaluateTracking, riseFall, type RiseFall } from '../../src/vrrp/tracking.js';
import { syncGroupForces, groupFault } from '../../src/vrrp/sync-group.js';

test('tracking: weight 0 down is fault; negative weights subtract when down; positive add when up', (t) => {
  t.deepEqual(evaluateTracking([]), { delta: 0, fault: false, effects: [] });
  const r = evaluateTracking([
    { id: 'interface:eth1', weight: 0, up: true },
    { id: 'interface:eth2', weight: -30, up: false },
    { id: 'script:a', weight: -10, up: true },
    { id: 'script:b', weight: 5, up: true },
    { id: 'script:c', weight: 7, up: false },
  ]);
  t.is(r.delta, -25);
  t.false(r.fault);
  t.deepEqual(r.effects.map((e) => e.id), ['interface:eth2', 'script:b']);
  t.true(evaluateTracking([{ id: 'interface:eth1', weight: 0, up: false }]).fault);
});

test('rise/fall: flips only after enough results in a row', (t) => {
  let s: RiseFall = { up: true, streak: 0 };
  const seq: [boolean, boolean][] = [[false, true], [false, true], [true, true], [false, true], [false, true], [false, false], [true, false], [true, true]];
  for (const [ok, wantUp] of seq) { s = riseFall(s, ok, 2, 3); t.is(s.up, wantUp); }
});

test('sync group: master pulls others up, yielding pushes them down, forced moves do not echo', (t) => {
  const m = [{ name: 'A', state: 'master' as const }, { name: 'B', state: 'backup' as const }, { name: 'C', state: 'fault' as const }];
  t.deepEqual(syncGroupForces(m, { name: 'A', from: 'backup', to: 'master', reason: 'master-down-timer' }), [{ name: 'B', to: 'master' }]);
  t.deepEqual(syncGroupForces([{ name: 'A', state: 'backup' }, { name: 'B', state: 'master' }], { name: 'A', from: 'master', to: 'backup', reason: 'higher-priority-advert' }), [{ name: 'B', to: 'backup' }]);
  t.deepEqual(syncGroupForces(m, { name: 'A', from: 'backup', to: 'master', reason: 'sync-group' }), []);
  t.true(groupFault([false, true]));
  t.false(groupFault([false, false]));
});
