// Sync daemon planning: which daemon a role wants, and the smallest kernel operations to get it.
import test from 'ava';
import { daemonOps, followsText, wantedDaemon, wantedDaemons, type KernelDaemon, type SyncDaemonConfig } from '../../src/sync/plan.js';

const CFG: SyncDaemonConfig = { interface: 'eth0', syncId: 5, follow: { kind: 'instance', name: 'VI_1' } };
const K = (state: 'master' | 'backup', o: Partial<KernelDaemon> = {}): KernelDaemon =>
  ({ state, mcastIfn: 'eth0', syncId: 5, syncMaxlen: 1472, mcastGroup: '224.0.0.81', mcastPort: 8848, mcastTtl: 1, ...o });

test('the role picks the daemon; settings left out are the kernel defaults and match anything', (t) => {
  t.deepEqual(wantedDaemon(CFG, 'master'), { state: 'master', mcastIfn: 'eth0', syncId: 5 });
  t.deepEqual(wantedDaemon({ ...CFG, mcastPort: 9000, mcastTtl: 2, mcastGroup: '239.1.1.1', maxLen: 1400 }, 'backup'),
    { state: 'backup', mcastIfn: 'eth0', syncId: 5, syncMaxlen: 1400, mcastGroup: '239.1.1.1', mcastPort: 9000, mcastTtl: 2 });
  t.deepEqual(daemonOps([K('master')], wantedDaemon(CFG, 'master')), [], 'already running: nothing to do');
});

test('becoming master: stop the backup daemon, start the master one; and back', (t) => {
  t.deepEqual(daemonOps([K('backup')], wantedDaemon(CFG, 'master')), [{ op: 'stop', state: 'backup' }, { op: 'start', daemon: wantedDaemon(CFG, 'master') }]);
  t.deepEqual(daemonOps([K('master')], wantedDaemon(CFG, 'backup')), [{ op: 'stop', state: 'master' }, { op: 'start', daemon: wantedDaemon(CFG, 'backup') }]);
  t.deepEqual(daemonOps([], wantedDaemon(CFG, 'backup')), [{ op: 'start', daemon: wantedDaemon(CFG, 'backup') }]);
});

test('both running (someone else started them): the master one stops first; other settings mean restart', (t) => {
  t.deepEqual(daemonOps([K('backup'), K('master')], wantedDaemon(CFG, 'backup')), [{ op: 'stop', state: 'master' }]);
  t.deepEqual(daemonOps([K('backup', { syncId: 9 })], wantedDaemon(CFG, 'backup')), [{ op: 'stop', state: 'backup' }, { op: 'start', daemon: wantedDaemon(CFG, 'backup') }]);
  t.deepEqual(daemonOps([K('backup', { mcastPort: 9000 })], wantedDaemon({ ...CFG, mcastPort: 9000 }, 'backup')), []);
  t.deepEqual(daemonOps([K('master'), K('backup')], undefined), [{ op: 'stop', state: 'master' }, { op: 'stop', state: 'backup' }], 'sync removed from the config');
});

test('mesh: both daemons, backup started first; a pair node\'s single daemon is completed, not restarted', (t) => {
  const mesh: SyncDaemonConfig = { ...CFG, follow: { kind: 'mesh' } };
  t.is(followsText(mesh), 'mesh');
  t.is(followsText(CFG), 'instance VI_1');
  const want = wantedDaemons(mesh, 'mesh');
  t.deepEqual(want.map((d) => d.state), ['backup', 'master']);
  t.deepEqual(daemonOps([], want), [{ op: 'start', daemon: want[0] }, { op: 'start', daemon: want[1] }]);
  t.deepEqual(daemonOps([K('backup')], want), [{ op: 'start', daemon: want[1] }], 'the backup daemon kept, the master one added');
  t.deepEqual(daemonOps([K('master'), K('backup')], want), [], 'already a mesh node');
  t.deepEqual(daemonOps([K('master', { syncId: 4 }), K('backup')], want), [{ op: 'stop', state: 'master' }, { op: 'start', daemon: want[1] }], 'another sync ID: restarted');
  t.deepEqual(daemonOps([K('master'), K('backup')], wantedDaemons(CFG, 'backup')), [{ op: 'stop', state: 'master' }], 'mesh -> a pair backup');
});
