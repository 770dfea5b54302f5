// duet against a real keepalived (Debian 2.2.7) on one bridge: VRRPv3 at 0.1 s, VRRPv2 at 1 s
// with and without a simple password. Each side must take the other's adverts as valid:
//  (a) duet 150 master, keepalived 100 stays BACKUP for several Master_Down_Intervals, counting
//      duet's adverts with no receive error; then duet dies (SIGKILL + link down) and keepalived
//      takes over after its down timer;
//  (b) keepalived 150 master, duet 100 backup following it with no drop; keepalived stops
//      (SIGTERM: priority 0) and duet takes over with reason master-released.
//  (c) v3: keepalived 150 starts beside a duet 100 master, validates and discards duet's
//      lower-priority adverts, preempts; duet yields with reason higher-priority-advert.
// Controls make the assertions meaningful: keepalived really prints the receive-error phrases we
// grep for when fed bad packets, and scenario (a) itself fails (t.try) when duet's packets are
// wrong (v3 checksum without pseudo-header, v2 password mismatch).
import test, { type ExecutionContext } from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, describeNodes, inject, type DuetNode } from '../../lab/duet-node.js';
import { startKeepalived, keepalivedConfig, type KeepalivedNode } from '../../lab/keepalived.js';
import { encodeIpv4Vrrp } from '../../src/vrrp/codec.js';
import type { Advert } from '../../src/vrrp/types.js';
import { waitLinkUp } from '../../lab/lab.js';

const VIP = '192.0.2.100';
const GROUP = '224.0.0.18';
const root = process.getuid?.() === 0;
const rootTest = root ? test.serial : test.skip;

let lab: Lab;
const duets: DuetNode[] = [];
const kas: KeepalivedNode[] = [];

interface Variant {
  title: string;
  version: 2 | 3;
  /** Seconds. */
  advertInt: number;
  auth?: string;
}
const V3: Variant = { title: 'v3 0.1 s', version: 3, advertInt: 0.1 };
const V2: Variant = { title: 'v2 1 s', version: 2, advertInt: 1 };
const V2_PASS: Variant = { title: 'v2 1 s auth PASS', version: 2, advertInt: 1, auth: 'secret' };

/** RFC 5798 §6.1 / RFC 3768 §6.1 (v2 skew in whole seconds, as keepalived and duet do), in ms. */
const masterDownMs = (priority: number, v: Variant): number =>
  3 * v.advertInt * 1000 + ((256 - priority) * (v.version === 3 ? v.advertInt * 1000 : 1000)) / 256;

if (root) {
  test.before(async () => {
    lab = await createLab('ki', [{ name: 'd', addr: '192.0.2.11' }, { name: 'k', addr: '192.0.2.12' }]);
  });
  test.afterEach.always(async (t) => {
    if (!t.passed) {
      for (const d of describeNodes(duets)) t.log(d);
      for (const k of kas) t.log(`keepalived ${k.host}`, k.text());
    }
    for (const n of duets.splice(0)) n.cleanup();
    await Promise.all(kas.splice(0).map((k) => k.cleanup()));
    for (const h of ['d', 'k']) {
      await lab.exec(h, ['ip', 'link', 'set', lab.host(h).ifname, 'up']).catch(() => undefined);
      await waitLinkUp(lab, h).catch(() => undefined);
      await lab.exec(h, ['ip', 'addr', 'flush', 'dev', lab.host(h).ifname, 'to', `${VIP}/32`]).catch(() => undefined);
    }
  });
  test.after.always(async () => { await lab?.destroy(); });
}

async function hasVip(host: string): Promise<boolean> {
  const { stdout } = await lab.exec(host, ['ip', '-j', 'addr', 'show', 'dev', lab.host(host).ifname]);
  return (JSON.parse(stdout) as { addr_info: { local: string }[] }[]).some((l) => l.addr_info.some((a) => a.local === VIP));
}

async function duet(priority: number, v: Variant, o: { extra?: string; auth?: string } = {}): Promise<DuetNode> {
  const auth = o.auth ?? v.auth;
  const n = await startDuet(lab, 'd', pairConfig('d', {
    ifname: lab.host('d').ifname, priority, version: v.version, advertInt: v.advertInt,
    extra: (auth ? `      auth: { type: pass, password: ${auth} }\n` : '') + (o.extra ?? ''),
  }));
  duets.push(n);
  return n;
}

async function keepalived(priority: number, v: Variant): Promise<KeepalivedNode> {
  const k = await startKeepalived(lab, 'k', keepalivedConfig({
    ifname: lab.host('k').ifname, priority, version: v.version, advertInt: v.advertInt, ...(v.auth ? { authPass: v.auth } : {}),
  }));
  kas.push(k);
  return k;
}

/** Watch a condition for a whole window: fails at the first poll where check() throws. */
async function hold(ms: number, check: () => Promise<void>, intervalMs = 50): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    await check();
    const left = end - performance.now();
    if (left <= 0) return;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, left)));
  }
}

const ZERO_KA_ERRORS = {
  packet_len_err: 0, advert_interval_err: 0, ip_ttl_err: 0, invalid_type_rcvd: 0, addr_list_err: 0,
  invalid_authtype: 0, authtype_mismatch: 0, auth_failure: 0,
};
const kaErrors = (s: Record<keyof typeof ZERO_KA_ERRORS, number>) =>
  Object.fromEntries(Object.keys(ZERO_KA_ERRORS).map((k) => [k, s[k as keyof typeof ZERO_KA_ERRORS]]));

// ---- control: the receive-error phrases are keepalived's own ----

const advert = (v: Variant, o: Partial<Advert> = {}): Advert => ({
  version: v.version, vrid: 51, priority: 200, maxAdverIntCs: Math.round(v.advertInt * 100), addresses: [VIP],
  ...(v.version === 2 ? { authType: v.auth ? 1 : 0, authData: v.auth ?? '' } : {}), ...o,
});
const pkt = (a: Advert, o: { ttl?: number; pseudoHeader?: boolean } = {}): Uint8Array =>
  encodeIpv4Vrrp(a, { src: lab.host('d').addr, dst: GROUP, ttl: o.ttl ?? 255, tos: 0xc0, id: 0 }, { pseudoHeader: o.pseudoHeader ?? true });
const badChecksum = (p: Uint8Array): Uint8Array => { const q = Uint8Array.from(p); q[26]! ^= 0x5a; return q; };

async function controlRejects(t: ExecutionContext, v: Variant, cases: { what: string; packet: Uint8Array; phrase: RegExp; countedAsAdvert?: boolean; addrListErr?: boolean }[]): Promise<void> {
  const k = await keepalived(100, v);
  await k.waitLine(/\(VI_1\) Entering MASTER STATE/, { timeoutMs: masterDownMs(100, v) + 5000 });
  for (const c of cases) {
    const from = k.lines.length;
    await inject(lab, 'd', GROUP, [c.packet]);
    const line = await k.waitLine(c.phrase, { from, timeoutMs: 3000 });
    t.true(k.rxErrors().includes(line.text), `${c.what}: "${line.text}" is caught by KEEPALIVED_RX_ERRORS`);
  }
  // Every packet claimed priority 200 against keepalived's 100: none made it back off. keepalived
  // counts a packet as an advert once checksum and header pass, before the VIP check.
  const s = await k.instance();
  t.is(s.state, 'master');
  t.is(s.stats.advert_rcvd, cases.filter((c) => c.countedAsAdvert).length, 'adverts counted by keepalived');
  t.is(s.stats.addr_list_err, cases.filter((c) => c.addrListErr).length, 'address-list errors counted by keepalived');
  t.false(k.lines.some((l) => /Entering BACKUP STATE/.test(l.text) && !/\(init\)/.test(l.text)));
}

rootTest('control v3: keepalived logs the phrases we grep for when it rejects bad packets', async (t) => {
  await controlRejects(t, V3, [
    { what: 'bad checksum', packet: badChecksum(pkt(advert(V3))), phrase: /Invalid VRRPv3 checksum/ },
    { what: 'checksum without pseudo-header', packet: pkt(advert(V3), { pseudoHeader: false }), phrase: /Invalid VRRPv3 checksum/ },
    { what: 'TTL 1', packet: pkt(advert(V3), { ttl: 1 }), phrase: /invalid TTL\/HL\. Received 1 and expect 255/ },
    { what: 'v2 to a v3 instance', packet: pkt(advert(V2)), phrase: /wrong version\. Received 2 and expect 3/ },
    { what: 'other VIP', packet: pkt(advert(V3, { addresses: ['192.0.2.101'] })), phrase: /ip address associated with VRID 51 not present in MASTER advert: 192\.0\.2\.100/, countedAsAdvert: true, addrListErr: true },
    { what: 'two VIPs', packet: pkt(advert(V3, { addresses: [VIP, '192.0.2.101'] })), phrase: /received an unexpected ip number count 2, expected 1/, addrListErr: true },
    { what: 'unknown VRID', packet: pkt(advert(V3, { vrid: 52 })), phrase: /Unknown VRID\(52\)/ },
  ]);
});

rootTest('control v2: wrong password, interval and checksum are logged with the phrases we grep for', async (t) => {
  await controlRejects(t, V2_PASS, [
    { what: 'wrong password', packet: pkt(advert(V2_PASS, { authData: 'secreT' })), phrase: /received an invalid passwd/ },
    { what: 'no auth', packet: pkt(advert(V2_PASS, { authType: 0, authData: '' })), phrase: /received a 0 auth, expecting 1/ },
    { what: 'interval 2 s', packet: pkt(advert(V2_PASS, { maxAdverIntCs: 200 })), phrase: /advertisement interval mismatch mine=1 sec rcv'd=2 sec/ },
    { what: 'bad checksum', packet: badChecksum(pkt(advert(V2_PASS))), phrase: /Invalid VRRPv2 checksum/ },
  ]);
});

// ---- (a) duet master, keepalived backup ----

async function duetMasterKeepalivedBackup(t: ExecutionContext, v: Variant, o: { duetExtra?: string; duetAuth?: string } = {}): Promise<void> {
  const d = await duet(150, v, { extra: o.duetExtra, auth: o.duetAuth });
  await d.waitState('VI_1', 'master', masterDownMs(150, v) + 5000);
  await waitFor(() => hasVip('d'), { timeoutMs: 3000, what: 'VIP on d' });

  const k = await keepalived(100, v);
  const backupLine = await k.waitLine(/\(VI_1\) Entering BACKUP STATE/, { timeoutMs: 5000 });
  // keepalived's own down timer is masterDownMs(100), running since it entered BACKUP: staying
  // BACKUP for that plus three intervals means it accepted duet's adverts all along (rejected ones
  // do not reset the timer), and its counters say how many.
  const windowMs = Math.max(masterDownMs(100, v) + 3 * v.advertInt * 1000, 1500);
  const before = await k.instance();
  await hold(windowMs, async () => {
    const m = k.lines.find((l) => /Entering MASTER STATE/.test(l.text));
    if (m) throw new Error(`keepalived became master: ${m.text}\n${k.rxErrors().join('\n')}`);
  });
  const after = await k.instance();
  t.is(after.state, 'backup');
  t.is(after.masterPriority, 150, "keepalived learned duet's priority");
  const expected = windowMs / (v.advertInt * 1000);
  const got = after.stats.advert_rcvd - before.stats.advert_rcvd;
  t.true(got >= expected * 0.6 && got <= expected * 1.5 + 2, `keepalived counted ${got} adverts in ${windowMs} ms (expected ~${expected.toFixed(0)})`);
  t.deepEqual(kaErrors(after.stats), ZERO_KA_ERRORS, 'keepalived packet/auth error counters');
  t.deepEqual(k.rxErrors(), [], 'no receive-error lines in keepalived output');
  t.true(await hasVip('d'));
  t.false(await hasVip('k'), 'VIP only on the duet master');

  const ds = (await d.status());
  const di = ds.instances[0]!;
  t.is(di.state, 'master');
  t.deepEqual(di.counters.dropped, {}, 'duet dropped nothing');
  t.deepEqual(ds.unmatched, {});
  t.is(di.counters.sendErrors, 0);
  t.deepEqual(d.transitions().map((l) => [l['from'], l['to'], l['reason']]), [['init', 'backup', 'startup'], ['backup', 'master', 'master-down-timer']]);

  // Host down: SIGKILL (no priority 0) and link down. keepalived takes over after its down timer.
  const from = k.lines.length;
  const t0 = performance.now();
  d.kill('SIGKILL');
  await lab.exec('d', ['ip', 'link', 'set', lab.host('d').ifname, 'down']);
  const m = await k.waitLine(/\(VI_1\) Entering MASTER STATE/, { from, timeoutMs: masterDownMs(100, v) + 5000 });
  const tookMs = m.at - t0;
  t.log(`${v.title}: keepalived took over ${tookMs.toFixed(0)} ms after SIGKILL (Master_Down_Interval ${masterDownMs(100, v).toFixed(0)} ms)`);
  t.truthy(k.lines.slice(from).find((l) => /\(VI_1\) Receive advertisement timeout/.test(l.text)));
  // Not before its down timer could run out from duet's last advert (so it had been hearing duet
  // until the kill), and not far after it.
  t.true(tookMs >= masterDownMs(100, v) - v.advertInt * 1000 - 50, `takeover after ${tookMs.toFixed(0)} ms`);
  t.true(tookMs <= masterDownMs(100, v) + 1500, `takeover after ${tookMs.toFixed(0)} ms`);
  await waitFor(() => hasVip('k'), { timeoutMs: 3000, what: 'VIP on keepalived' });
  t.is((await k.instance()).state, 'master');
  t.deepEqual(k.rxErrors(), []);
  t.is(backupLine.text.includes('(init)'), true, 'keepalived went BACKUP from init, once');
}

rootTest('(a) v3 0.1 s: duet 150 master, keepalived 100 stays backup; kill -9 duet: keepalived takes over', (t) => duetMasterKeepalivedBackup(t, V3));
rootTest('(a) v2 1 s: duet 150 master, keepalived 100 stays backup; kill -9 duet: keepalived takes over', (t) => duetMasterKeepalivedBackup(t, V2));
rootTest('(a) v2 1 s auth PASS: duet 150 master, keepalived 100 stays backup; kill -9 duet: keepalived takes over', (t) => duetMasterKeepalivedBackup(t, V2_PASS));

// ---- (b) keepalived master, duet backup ----

async function keepalivedMasterDuetBackup(t: ExecutionContext, v: Variant): Promise<void> {
  const k = await keepalived(150, v);
  await k.waitLine(/\(VI_1\) Entering MASTER STATE/, { timeoutMs: masterDownMs(150, v) + 5000 });
  await waitFor(() => hasVip('k'), { timeoutMs: 3000, what: 'VIP on keepalived' });

  const d = await duet(100, v);
  const startedAt = performance.now();
  await d.waitState('VI_1', 'backup');
  // duet's down timer is masterDownMs(100): backup for that plus three intervals means keepalived's
  // adverts were accepted; any drop would show in counters.dropped, a missing advert make it master.
  const windowMs = Math.max(masterDownMs(100, v) + 3 * v.advertInt * 1000, 1500);
  await waitFor(async () => (await d.instance('VI_1'))?.masterAddress === lab.host('k').addr, { timeoutMs: 3000, what: 'duet sees keepalived as master' });
  const r0 = (await d.instance('VI_1'))!.counters.advertsReceived;
  const h0 = performance.now();
  await hold(windowMs - (h0 - startedAt), async () => {
    const i = (await d.instance('VI_1'))!;
    if (i.state !== 'backup') throw new Error(`duet left backup: ${JSON.stringify(i)}`);
    if (Object.keys(i.counters.dropped).length) throw new Error(`duet dropped: ${JSON.stringify(i.counters.dropped)}`);
  });
  const heldMs = performance.now() - h0;
  const ds = await d.status();
  const di = ds.instances[0]!;
  t.is(di.state, 'backup');
  t.is(di.masterAddress, lab.host('k').addr);
  t.is(di.masterPriority, 150);
  t.deepEqual(di.counters.dropped, {}, 'duet dropped none of keepalived\'s adverts');
  t.deepEqual(ds.unmatched, {});
  t.is(di.counters.addressMismatch, 0);
  const got = di.counters.advertsReceived - r0;
  const expected = heldMs / (v.advertInt * 1000);
  t.true(got >= expected * 0.6 && got <= expected * 1.5 + 2, `duet accepted ${got} adverts in ${heldMs.toFixed(0)} ms (expected ~${expected.toFixed(0)})`);
  t.deepEqual(d.transitions().map((l) => [l['from'], l['to'], l['reason']]), [['init', 'backup', 'startup']]);
  t.true(await hasVip('k'));
  t.false(await hasVip('d'), 'VIP only on the keepalived master');

  // Clean stop: keepalived sends priority 0; duet takes over after Skew_Time.
  const t0 = performance.now();
  k.kill('SIGTERM');
  await d.waitState('VI_1', 'master', masterDownMs(100, v) + 3000);
  const tookMs = performance.now() - t0;
  t.log(`${v.title}: duet took over ${tookMs.toFixed(0)} ms after keepalived's SIGTERM (Skew_Time ~${(masterDownMs(100, v) - 3000 * v.advertInt).toFixed(0)} ms)`);
  t.is(d.transitions().at(-1)?.['reason'], 'master-released');
  t.is(await k.exited(), 0);
  t.truthy(k.lines.find((l) => /\(VI_1\) sent 0 priority/.test(l.text)));
  await waitFor(async () => (await hasVip('d')) && !(await hasVip('k')), { timeoutMs: 3000, what: 'VIP moved to duet' });
  t.deepEqual((await d.instance('VI_1'))!.counters.dropped, {});
  t.deepEqual(k.rxErrors(), []);
}

rootTest('(b) v3 0.1 s: keepalived 150 master, duet 100 backup; keepalived stops: duet master-released', (t) => keepalivedMasterDuetBackup(t, V3));
rootTest('(b) v2 1 s: keepalived 150 master, duet 100 backup; keepalived stops: duet master-released', (t) => keepalivedMasterDuetBackup(t, V2));
rootTest('(b) v2 1 s auth PASS: keepalived 150 master, duet 100 backup; keepalived stops: duet master-released', (t) => keepalivedMasterDuetBackup(t, V2_PASS));

// ---- (c) keepalived preempts a duet master ----

rootTest('(c) v3 0.1 s: keepalived 150 preempts duet 100: it parses duet\'s lower-priority adverts, duet yields', async (t) => {
  const d = await duet(100, V3);
  await d.waitState('VI_1', 'master', masterDownMs(100, V3) + 5000);
  const k = await keepalived(150, V3);
  // keepalived (preempt) discards the lower-priority adverts it validated, then its timer makes it master.
  const low = await k.waitLine(/\(VI_1\) received lower priority \(100\) advert from 192\.0\.2\.11 - discarding/, { timeoutMs: 3000 });
  await k.waitLine(/\(VI_1\) Entering MASTER STATE/, { timeoutMs: masterDownMs(150, V3) + 3000 });
  const i = await d.waitState('VI_1', 'backup', 3000);
  t.is(d.transitions().at(-1)?.['reason'], 'higher-priority-advert');
  t.is(i.masterAddress, lab.host('k').addr);
  t.is(i.masterPriority, 150);
  await waitFor(async () => (await hasVip('k')) && !(await hasVip('d')), { timeoutMs: 3000, what: 'VIP moved to keepalived' });
  // duet stays backup: keepalived's adverts keep coming and are accepted.
  await hold(1000, async () => {
    const s = (await d.instance('VI_1'))!;
    if (s.state !== 'backup') throw new Error(`duet left backup: ${JSON.stringify(s)}`);
  });
  const ds = await d.status();
  t.deepEqual(ds.instances[0]!.counters.dropped, {});
  t.deepEqual(ds.unmatched, {});
  t.deepEqual(k.rxErrors(), []);
  const ks = await k.instance();
  t.is(ks.state, 'master');
  t.true(ks.stats.advert_rcvd >= 1, `keepalived counted ${ks.stats.advert_rcvd} duet adverts`);
  t.deepEqual(kaErrors(ks.stats), ZERO_KA_ERRORS);
  t.truthy(low);
});

// ---- the scenario notices wrong packets from duet ----

rootTest('(a) fails when duet\'s v3 checksum omits the pseudo-header: keepalived logs it and takes over', async (t) => {
  const attempt = await t.try((tt) => duetMasterKeepalivedBackup(tt, V3, { duetExtra: '      checksum_pseudo_header: false\n' }));
  const passed = attempt.passed;
  attempt.discard();
  t.false(passed, 'the interop scenario fails on wrong checksums');
  const k = kas[0]!;
  t.truthy(k.lines.find((l) => /\(VI_1\) Invalid VRRPv3 checksum/.test(l.text)));
  t.truthy(k.lines.find((l) => /\(VI_1\) Entering MASTER STATE/.test(l.text)));
  t.true(k.rxErrors().length > 0);
});

rootTest('(a) fails when duet\'s v2 password differs: keepalived logs it and takes over', async (t) => {
  const attempt = await t.try((tt) => duetMasterKeepalivedBackup(tt, V2_PASS, { duetAuth: 'secreT' }));
  const passed = attempt.passed;
  attempt.discard();
  t.false(passed, 'the interop scenario fails on a wrong password');
  t.truthy(kas[0]!.lines.find((l) => /\(VI_1\) received an invalid passwd/.test(l.text)));
});
