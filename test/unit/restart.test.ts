import test from 'ava';
import { decideResume, markInstance, parseMarker, resumeWindowMs, type RestartMarker } from '../../src/daemon/restart.js';
import { parseConfig } from '../../src/config/load.js';
import type { InstanceConfig } from '../../src/config/schema.js';

const instance = (o: { vrid?: number; version?: number; advert_int?: number } = {}): InstanceConfig => {
  const f = { vrid: 51, version: 3, advert_int: 1, ...o };
  const r = parseConfig(`vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: ${f.vrid}, version: ${f.version}, advert_int: ${f.advert_int}, virtual_ipaddress: [192.0.2.100/24] }\n`, 't.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value.vrrp.instances[0]!;
};
const marker = (ic: InstanceConfig, lastAdvertAt: number): RestartMarker => ({ version: 1, at: lastAdvertAt, instances: { VI_1: markInstance(ic, lastAdvertAt) } });

test('the resume window is 2.5 advert intervals: the peer waits at least 3 after the last advert', (t) => {
  t.is(resumeWindowMs(1000), 2500);
  t.is(resumeWindowMs(100), 250);
});

test('resume only in time, for the same instance, and not against an operator who asked for backup', (t) => {
  const ic = instance();
  const m = marker(ic, 10_000);
  t.deepEqual(decideResume(ic, m, undefined, 10_000 + 2_500), { resume: true });
  t.deepEqual(decideResume(ic, m, undefined, 10_000 + 2_501), { resume: false, why: 'too late: 2501 ms since the last advert, window 2500 ms' });
  t.deepEqual(decideResume(ic, m, undefined, 9_000), { resume: false, why: 'wall clock went backwards' });
  t.deepEqual(decideResume(ic, undefined, undefined, 10_000), { resume: false, why: 'no restart marker' });
  t.deepEqual(decideResume(ic, { ...m, instances: {} }, undefined, 10_000), { resume: false, why: 'was not master' });
  t.deepEqual(decideResume(instance({ vrid: 52 }), m, undefined, 10_000), { resume: false, why: 'instance changed since the restart' });
  t.deepEqual(decideResume(instance({ version: 2 }), m, undefined, 10_000), { resume: false, why: 'instance changed since the restart' });
  t.deepEqual(decideResume(ic, m, { mode: 'maintenance', sticky: true, since: 0 }, 10_000), { resume: false, why: 'operator maintenance' });
  t.deepEqual(decideResume(ic, m, { mode: 'takeover', sticky: true, since: 0 }, 10_000), { resume: true });
  // The window comes from the interval the old run advertised, not from the new config.
  const slow = marker(instance({ advert_int: 4 }), 10_000);
  t.deepEqual(decideResume(instance({ advert_int: 4 }), slow, undefined, 19_000), { resume: true });
});

test('a marker that is not one is refused whole', (t) => {
  const ic = instance();
  const good = JSON.stringify(marker(ic, 5));
  t.deepEqual(parseMarker(good), JSON.parse(good));
  for (const bad of ['', 'null', '{}', '[1]', good.replace('"version":1', '"version":2'), good.replace('"vrid":51', '"vrid":"51"'), good.replace('"family":4', '"family":5')]) {
    t.is(parseMarker(bad), undefined, bad);
  }
});
