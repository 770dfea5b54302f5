// The crash policy: an uncaught error or rejection logs, releases through the normal stop, and
// exits 70; a release that hangs is cut off by its deadline; a second error changes nothing.
import test from 'ava';
import { EventEmitter } from 'node:events';
import { installCrashPolicy, EXIT_FATAL } from '../../src/daemon/crash.js';

function rig(release: () => Promise<unknown>) {
  const proc = new EventEmitter();
  const lines: string[] = [];
  const exits: number[] = [];
  const timers: { ms: number; fn: () => void }[] = [];
  installCrashPolicy(proc, {
    log: { fatal: (_o, m) => lines.push(`fatal ${m}`), error: (_o, m) => lines.push(`error ${m}`) },
    release, exit: (c) => exits.push(c), after: (ms, fn) => timers.push({ ms, fn }),
  }, 3000);
  return { proc, lines, exits, timers };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('uncaughtException: logged as fatal, released, exit 70 once the release is done', async (t) => {
  let released = 0;
  let finish!: () => void;
  const r = rig(() => { released++; return new Promise<void>((res) => { finish = res; }); });
  r.proc.emit('uncaughtException', new Error('boom'));
  t.is(released, 1);
  t.regex(r.lines[0]!, /^fatal fatal: uncaughtException; releasing VIPs and exiting 70/);
  await tick();
  t.deepEqual(r.exits, [], 'not before the VIPs are released');
  finish();
  await tick();
  t.deepEqual(r.exits, [EXIT_FATAL]);
  r.timers[0]!.fn();
  t.deepEqual(r.exits, [EXIT_FATAL], 'the deadline does not exit a second time');
});

test('unhandledRejection whose release hangs: the deadline exits 70; a second error only logs', async (t) => {
  let released = 0;
  const r = rig(() => { released++; return new Promise(() => {}); });
  r.proc.emit('unhandledRejection', 'not an Error');
  r.proc.emit('uncaughtException', new Error('again'));
  t.is(released, 1, 'released once');
  t.deepEqual(r.lines.slice(1), ['error another fatal error while releasing']);
  t.is(r.timers[0]!.ms, 3000);
  r.timers[0]!.fn();
  t.deepEqual(r.exits, [EXIT_FATAL]);
});

test('a release that fails still exits 70', async (t) => {
  const r = rig(() => Promise.reject(new Error('rtnl closed')));
  r.proc.emit('uncaughtException', new Error('boom'));
  await tick();
  t.deepEqual(r.exits, [EXIT_FATAL]);
  t.true(r.lines.includes('error release failed; exiting'));
});
