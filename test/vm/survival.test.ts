// Issue 5, end to end on the real kernel (VM tier): do established TCP sessions survive a
// host-down failover of the director pair, and the failback? One VM per forwarding mode (DR, NAT),
// each running three options one after the other (src/lab/survival.ts): `sync` (duet's
// sync_daemon, rr), `none` (rr, no sync: the baseline, which must break, or the test could not
// tell), `mh` (mh scheduler with mh-port, sloppy_tcp, no sync). A client holds 120 sessions
// (one numbered line each every 500 ms, echo checked in order); d1 is killed host-down (SIGKILL +
// links down), then comes back as a fresh host and preempts after preempt_delay, while a second
// batch of 120 sessions opened through d2 must survive that return too.
import { readFileSync, writeFileSync } from 'node:fs';
import test from 'ava';
import { describe, replaySurvival, runSurvival, type Mode, type OptionResult, type SurvivalResult, type SyncOption } from '../../lab/survival.js';
import { describeVm } from '../../lab/vm.js';

const SESSIONS = 120;
/**
 * Stall bound after a host-down kill: the outage lasts the failover time F (plus the VIP and GARP
 * after the transition), and a client's TCP retransmits at 0.2, 0.6, 1.4, 3.0, 6.2, 12.6 s: the
 * first retransmission after the path is back comes at most about as long again later. So the
 * stall stays under 2F plus slack for the takeover's own work and VM noise (measured: F 2.7-3.7 s,
 * stall 4.4-8.5 s with sync).
 */
const failoverStallBound = (failoverMs: number): number => 2 * failoverMs + 6000;
/**
 * Stall bound on failback: a planned handover (preempt: the old master drops the VIP, the new one
 * sends GARPs), an outage of one or two seconds in the emulated VM, then the next retransmission;
 * measured 1.0-3.9 s.
 */
const FAILBACK_STALL_MAX_MS = 8000;
/** NAT + mh without sync: the share that must survive (measured 98.3%, 100%, 100%; see docs/connection-sync.md). */
const NAT_MH_MIN_PCT = 90;

/** Options whose failback runs: all with DUET_SURVIVAL_FULL, else sync only (CI's time budget). */
const FAILBACK: SyncOption[] = process.env['DUET_SURVIVAL_FULL'] ? ['sync', 'none', 'mh'] : ['sync'];

const runs = new Map<Mode, Promise<SurvivalResult>>();
function run(mode: Mode): Promise<SurvivalResult> {
  let p = runs.get(mode);
  if (!p) {
    // The baseline's failback (it breaks too) costs a duet start and proves nothing new: CI skips
    // it unless DUET_SURVIVAL_FULL is set; `npm run bench:sync` runs every phase of every option.
    // mh's failback is measured by the benchmark and with DUET_SURVIVAL_FULL (CI's time budget).
    const failback = FAILBACK;
    // DUET_SURVIVAL_REPLAY=PREFIX re-reads PREFIX.dr / PREFIX.nat (a DUET_VM_DUMP) instead of booting.
    const replay = process.env['DUET_SURVIVAL_REPLAY'];
    if (replay) return Promise.resolve(replaySurvival(mode, readFileSync(`${replay}.${mode}`, 'utf8')));
    p = runSurvival({ mode, sessions: SESSIONS, failback }).then((r) => {
      const dump = process.env['DUET_VM_DUMP'];
      if (dump) writeFileSync(`${dump}.${mode}`, `${r.vm.stdout}\n--- stderr\n${r.vm.stderr}`);
      finished.set(mode, r);
      return r;
    });
    runs.set(mode, p);
  }
  return p;
}

const finished = new Map<string, SurvivalResult>();
test.afterEach.always((t) => { if (!t.passed) for (const [m, r] of finished) t.log(`${m}: ${describeVm(r.vm)}`); });

// Both modes' VMs start at once: each is one emulated CPU, and the host has two cores, so the
// file takes about as long as one mode.
if (!process.env['DUET_SURVIVAL_REPLAY']) { void run('dr').catch(() => undefined); void run('nat').catch(() => undefined); }

const opt = (r: SurvivalResult, o: string): OptionResult => {
  const x = r.options.find((y) => y.option === o);
  if (!x) throw new Error(`no result for ${o}; job tail:\n${r.vm.stdout.slice(-3000)}`);
  return x;
};

const where = (r: SurvivalResult, o: OptionResult): string =>
  `${describe(r.mode, o)}\nfailover: ${JSON.stringify(o.failover?.batches.map((b) => ({ ...b, gaps: undefined })))}\nfailback: ${JSON.stringify(o.failback?.batches.map((b) => ({ ...b, gaps: undefined })))}`;

for (const mode of ['dr', 'nat'] as const) {
  const M = mode.toUpperCase();

  test.serial(`${M}: the VM job runs sync, none and mh to the end`, async (t) => {
    t.timeout(1_500_000);
    const r = await run(mode);
    t.log(`${M}: VM boot ${r.vm.bootMs} ms, total ${Math.round(r.vm.totalMs / 1000)} s`);
    for (const o of r.options) t.log(describe(mode, o));
    t.is(r.vm.code, 0, r.vm.stdout.slice(-3000) + r.vm.stderr.slice(-2000));
    t.deepEqual(r.options.map((o) => o.option), ['sync', 'none', 'mh']);
    for (const o of r.options) {
      t.is(o.error, undefined, `${o.option}: ${o.error}\n${r.vm.stdout.slice(-3000)}`);
      t.deepEqual(o.opened['a'], { ok: SESSIONS, failed: 0, ms: o.opened['a']?.ms }, `${o.option}: batch a`);
    }
  });

  test.serial(`${M} sync: every session survives the host-down failover and the failback`, async (t) => {
    const r = await run(mode);
    const o = opt(r, 'sync');
    t.log(describe(mode, o));
    // The backup held every client connection, established, before the kill.
    t.true((o.conns['d2 before-kill']?.['ESTABLISHED'] ?? 0) >= SESSIONS, where(r, o));
    const fo = o.failover?.batches.find((b) => b.batch === 'a');
    t.is(fo?.atStart, SESSIONS, where(r, o));
    t.is(fo?.survived, SESSIONS, where(r, o));
    // Failback: both batches, the survivors of the failover and the sessions opened through d2.
    const fb = o.failback?.batches ?? [];
    t.deepEqual(fb.map((b) => [b.batch, b.atStart, b.survived]), [['a', SESSIONS, SESSIONS], ['b', SESSIONS, SESSIONS]], where(r, o));
  });

  test.serial(`${M} sync: the longest stall is bounded by the failover time plus a retransmission`, async (t) => {
    const r = await run(mode);
    const o = opt(r, 'sync');
    t.log(`failover ${o.failoverMs} ms, max stall ${o.failoverStallMs} ms; failback max stall ${o.failbackStallMs} ms (d1 start to master ${o.preemptMs} ms)`);
    t.truthy(o.failoverMs, 'failover time measured');
    t.true((o.failoverStallMs ?? Infinity) < failoverStallBound(o.failoverMs ?? 0), where(r, o));
    t.true((o.failbackStallMs ?? Infinity) < FAILBACK_STALL_MAX_MS, where(r, o));
  });

  test.serial(`${M} none: without sync the failover breaks sessions (the test detects breakage)`, async (t) => {
    const r = await run(mode);
    const o = opt(r, 'none');
    t.log(describe(mode, o));
    t.is(o.failover?.batches.find((b) => b.batch === 'a')?.atStart, SESSIONS, where(r, o));
    t.true((o.failoverPct ?? 100) < 100, where(r, o));
    t.deepEqual(o.conns['d2 before-kill'], {}, 'no sync: the backup knows none of them');
  });

  test.serial(`${M} mh + sloppy_tcp: sessions survive without sync (${mode === 'dr' ? 'all' : `at least ${NAT_MH_MIN_PCT}%`})`, async (t) => {
    const r = await run(mode);
    const o = opt(r, 'mh');
    t.log(describe(mode, o));
    t.true(o.notes.some((n) => /sloppy_tcp d1=1 d2=1/.test(n)), `duet set sloppy_tcp: ${o.notes.join('; ')}`);
    t.is(o.failover?.batches.find((b) => b.batch === 'a')?.atStart, SESSIONS, where(r, o));
    if (mode === 'dr') {
      // DR: the new master recreates every entry from the client's next packet, to the same server.
      t.is(o.failoverPct, 100, where(r, o));
      if (FAILBACK.includes('mh')) t.is(o.failbackPct, 100, where(r, o));
    } else {
      // NAT: the real servers' packets also pass the director; see docs/connection-sync.md.
      t.true((o.failoverPct ?? 0) >= NAT_MH_MIN_PCT, where(r, o));
      if (FAILBACK.includes('mh')) t.true((o.failbackPct ?? 0) >= NAT_MH_MIN_PCT, where(r, o));
    }
  });
}
