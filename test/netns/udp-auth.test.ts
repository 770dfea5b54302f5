// udp_auth (HMAC-SHA256 on the UDP transport) and min_ttl/max_ttl on a real duet pair in network
// namespaces: forged adverts from the peer's own address (no trailer, wrong key, unknown key id)
// and captured-and-replayed genuine ones are dropped and counted with no transition; restarts and
// key rotation by reloads cause none either; a raw unicast advert outside min_ttl..max_ttl is dropped.
import test from 'ava';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { startDuet, pairConfig, describeNodes, inject, type DuetNode } from '../../lab/duet-node.js';
import { startAgent, type Agent } from '../helpers/agent.js';
import { encodeAdvert, encodeIpv4Vrrp } from '../../src/vrrp/codec.js';
import { encodeIpv4Packet } from '../../src/vrrp/ipv4-header.js';
import { seal, type AuthKey } from '../../src/vrrp/udp-auth.js';
import { request } from '../../src/control/client.js';

const PORT = 1112;
const A = '192.0.2.11';
const B = '192.0.2.12';
const K1: AuthKey = { id: 1, secret: Buffer.from('11'.repeat(32), 'hex') };
const K2: AuthKey = { id: 2, secret: Buffer.from('22'.repeat(32), 'hex') };
const line = (k: AuthKey): string => `${k.id} ${Buffer.from(k.secret).toString('hex')}\n`;

let lab: Lab;
let keyDir: string;
const nodes: DuetNode[] = [];
const agents: Agent[] = [];

test.before(async () => {
  lab = await createLab('hm1', [{ name: 'd1', addr: A }, { name: 'd2', addr: B }, { name: 'x', addr: '192.0.2.13' }]);
  keyDir = mkdtempSync(join(tmpdir(), 'duet-hm1-keys-'));
});
test.afterEach.always(async (t) => {
  if (!t.passed) for (const d of describeNodes(nodes)) t.log(d);
  for (const n of nodes.splice(0)) n.cleanup();
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  for (const h of ['d1', 'd2']) await lab.exec(h, ['ip', 'addr', 'flush', 'dev', lab.host(h).ifname, 'to', '192.0.2.100/32']).catch(() => undefined);
});
test.after.always(async () => {
  await lab?.destroy();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

/** A key file for host, root-owned (we are root) and 0600. */
function keyFile(host: string, keys: AuthKey[]): string {
  const f = join(keyDir, `${host}.key`);
  writeFileSync(f, keys.map(line).join(''), { mode: 0o600 });
  chmodSync(f, 0o600);
  return f;
}

async function start(host: 'd1' | 'd2', priority: number, extra: string): Promise<DuetNode> {
  const n = await startDuet(lab, host, pairConfig(host, { ifname: lab.host(host).ifname, priority, extra }));
  nodes.push(n);
  return n;
}
const peerOf = (host: 'd1' | 'd2'): string => (host === 'd1' ? B : A);
const authed = (host: 'd1' | 'd2'): string =>
  `      transport: udp\n      unicast_peer: [${peerOf(host)}]\n      udp_auth: { key_file: ${join(keyDir, `${host}.key`)} }\n`;

/** The pair: d1 (150) master, d2 (100) backup hearing it; both with udp_auth on their own key files. */
async function pair(keys: AuthKey[] = [K1]): Promise<[DuetNode, DuetNode]> {
  keyFile('d1', keys);
  keyFile('d2', keys);
  const d1 = await start('d1', 150, authed('d1'));
  const d2 = await start('d2', 100, authed('d2'));
  await d1.waitState('VI_1', 'master');
  await waitFor(async () => { const i = await d2.instance('VI_1'); return i?.state === 'backup' && i.masterAddress === A ? i : undefined; }, { timeoutMs: 3000, what: 'd2 backup hearing d1' });
  return [d1, d2];
}

/** A whole IPv4/UDP packet src:1112 -> dst:1112 (UDP checksum 0: none), for inject(). */
function udpPacket(src: string, dst: string, payload: Uint8Array, ttl = 255): Uint8Array {
  const udp = new Uint8Array(8 + payload.length);
  const dv = new DataView(udp.buffer);
  dv.setUint16(0, PORT);
  dv.setUint16(2, PORT);
  dv.setUint16(4, udp.length);
  udp.set(payload, 8);
  return encodeIpv4Packet({ tos: 0xc0, id: 0, ttl, protocol: 17, src, dst }, udp);
}
const advert = (priority: number, src: string, dst: string): Uint8Array =>
  encodeAdvert({ version: 3, vrid: 51, priority, maxAdverIntCs: 10, addresses: ['192.0.2.100'] }, { family: 4, src, dst, pseudoHeader: true });

const dropped = async (n: DuetNode, reason: string): Promise<number> => (await n.instance('VI_1'))?.counters.dropped[reason as 'ttl'] ?? 0;

test.serial('authenticated UDP pair elects one master; forged priority-254 adverts from the peer\'s address (no MAC, wrong key, unknown key id) are dropped and counted; a correctly keyed one is obeyed', async (t) => {
  const [d1, d2] = await pair();
  t.deepEqual((await d1.instance('VI_1'))?.counters.dropped, {});
  t.deepEqual((await d2.instance('VI_1'))?.counters.dropped, {});
  t.false((await lab.exec('d2', ['ip', '-o', 'addr', 'show'])).stdout.includes('192.0.2.100'), 'one master');
  const before = d1.transitions().length;
  // From x, with d2's source address, to d1: what an off-path forger can send.
  const plain = advert(254, B, A);
  const wrongSecret = seal(plain, { src: B, dst: A, port: PORT }, { id: 1, secret: Buffer.alloc(32, 0x99) }, BigInt(Date.now()) << 20n);
  const unknownId = seal(plain, { src: B, dst: A, port: PORT }, { id: 77, secret: K1.secret }, BigInt(Date.now()) << 20n);
  await inject(lab, 'x', A, [plain, wrongSecret, unknownId, plain, wrongSecret, unknownId].map((p) => udpPacket(B, A, p)), { gapMs: 30 });
  await waitFor(async () => (await dropped(d1, 'unauthenticated')) === 2 && (await dropped(d1, 'bad-mac')) === 2 && (await dropped(d1, 'unknown-key')) === 2,
    { timeoutMs: 3000, what: 'two drops of each kind' });
  await new Promise((r) => setTimeout(r, 300));
  t.is((await d1.instance('VI_1'))?.state, 'master');
  t.is(d1.transitions().length, before, 'no transition');
  t.true(d1.logs.some((l) => l.msg === 'advert dropped' && l['reason'] === 'bad-mac'), 'logged');
  // Control: the same advert sealed with the real key (far ahead of d2's counter) demotes d1.
  const genuine = seal(plain, { src: B, dst: A, port: PORT }, K1, (BigInt(Date.now()) + 3_600_000n) << 16n);
  await inject(lab, 'x', A, [udpPacket(B, A, genuine)]);
  await waitFor(() => d1.transitions().some((l, n) => n >= before && l['to'] === 'backup'), { timeoutMs: 3000, what: 'd1 obeys a correctly keyed advert' });
});

test.serial('a captured genuine advert replayed later is dropped as replayed (and would otherwise demote the master)', async (t) => {
  const [d1, d2] = await pair();
  // Capture d1's priority-150 adverts arriving at d2.
  const sniffer = await startAgent(lab, 'd2');
  agents.push(sniffer);
  await sniffer.call('sniff.open', { ifname: lab.host('d2').ifname, protocol: 17 });
  const isD1 = (hex: string): boolean => hex.slice(24, 40) === Buffer.from([192, 0, 2, 11, 192, 0, 2, 12]).toString('hex');
  await waitFor(() => sniffer.events.filter((e) => e.event === 'sniff' && isD1(e.hex as string)).length >= 3, { timeoutMs: 3000, what: 'three captured adverts' });
  const captured = sniffer.events.filter((e) => e.event === 'sniff' && isD1(e.hex as string)).slice(0, 3).map((e) => Buffer.from(e.hex as string, 'hex'));
  // d1 drops to priority 50: d2 (100) preempts and is master.
  writeFileSync(d1.configFile, pairConfig('d1', { ifname: lab.host('d1').ifname, priority: 50, extra: authed('d1') }));
  t.true((await request(d1.socket, { cmd: 'reload' })).ok);
  await d2.waitState('VI_1', 'master', 3000);
  await d1.waitState('VI_1', 'backup', 3000);
  const before = d2.transitions().length;
  // Replay the priority-150 adverts to d2, exactly as captured, from d1's namespace.
  // As sniffed on a veth the UDP checksum is the offloaded partial sum: zero it (no checksum) so the
  // kernel delivers the replay; nothing the MAC covers is touched.
  for (const c of captured) c.writeUInt16BE(0, 26);
  await inject(lab, 'd1', B, [...captured, ...captured], { gapMs: 20 });
  await waitFor(async () => (await dropped(d2, 'replayed')) >= 6 ? true : undefined, { timeoutMs: 3000, what: 'six replayed drops' });
  await new Promise((r) => setTimeout(r, 300));
  t.is((await d2.instance('VI_1'))?.state, 'master', 'the replays did not demote d2');
  t.is(d2.transitions().length, before);
});

test.serial('restarts: a restarted backup and a restarted master are heard at once (no replayed drops, no transition storm)', async (t) => {
  const [d1, d2] = await pair();
  // The backup restarts: no state, takes d1's next advert.
  d2.kill('SIGKILL');
  await d2.exited();
  const d2b = await start('d2', 100, authed('d2'));
  await waitFor(async () => (await d2b.instance('VI_1'))?.masterAddress === A, { timeoutMs: 3000, what: 'restarted d2 hears d1' });
  t.deepEqual(d2b.transitions().map((l) => l['to']), ['backup']);
  // The master restarts: d2 takes over, then d1's new run (new counters from its clock) preempts back.
  d1.kill('SIGKILL');
  await d1.exited();
  await d2b.waitState('VI_1', 'master', 3000);
  const d1b = await start('d1', 150, authed('d1'));
  await d1b.waitState('VI_1', 'master', 3000);
  await d2b.waitState('VI_1', 'backup', 3000);
  t.deepEqual((await d2b.instance('VI_1'))?.counters.dropped, {}, 'nothing dropped at d2');
  t.deepEqual(d2b.transitions().map((l) => l['to']), ['backup', 'master', 'backup']);
});

test.serial('key rotation across both nodes by reloads (add, switch, remove) causes no transition; a reload with an unsafe key file is refused and changes nothing', async (t) => {
  const [d1, d2] = await pair([K1]);
  const t1 = d1.transitions().length;
  const t2 = d2.transitions().length;
  const reloadBoth = async (keys: AuthKey[]): Promise<void> => {
    for (const [n, h] of [[d1, 'd1'], [d2, 'd2']] as const) {
      keyFile(h, keys);
      const r = await request(n.socket, { cmd: 'reload' });
      t.true(r.ok, JSON.stringify(r));
      if (r.ok) t.deepEqual((r.result as { updated: string[] }).updated, ['VI_1'], 'an in-place update');
      await new Promise((r2) => setTimeout(r2, 300));
    }
  };
  await reloadBoth([K1, K2]);   // add K2 everywhere (K1 still signs)
  await reloadBoth([K2, K1]);   // switch: K2 signs
  await reloadBoth([K2]);       // remove K1
  await new Promise((r) => setTimeout(r, 300));
  t.is(d1.transitions().length, t1);
  t.is(d2.transitions().length, t2);
  t.deepEqual((await d1.instance('VI_1'))?.counters.dropped, {});
  t.deepEqual((await d2.instance('VI_1'))?.counters.dropped, {});
  // K1 is gone: an advert signed with it is refused (unknown-key), so K2 is what both use now.
  const old = seal(advert(254, B, A), { src: B, dst: A, port: PORT }, K1, (BigInt(Date.now()) + 3_600_000n) << 16n);
  await inject(lab, 'x', A, [udpPacket(B, A, old)]);
  await waitFor(async () => (await dropped(d1, 'unknown-key')) === 1, { timeoutMs: 3000, what: 'unknown-key drop' });
  // An unsafe key file: the reload is rejected, naming the file, and without the key in the message.
  const f = keyFile('d1', [K1]);
  chmodSync(f, 0o644);
  const bad = await request(d1.socket, { cmd: 'reload' });
  t.false(bad.ok);
  const text = JSON.stringify(bad);
  t.regex(text, /key file .*d1\.key: mode 0644 lets group or others read or write it/);
  t.false(text.includes('1111111111'), 'no key material');
  await new Promise((r) => setTimeout(r, 500));
  t.is((await d1.instance('VI_1'))?.state, 'master', 'running state untouched');
  t.deepEqual((await d2.instance('VI_1'))?.counters.dropped, {}, 'd1 still signs with K2');
  t.false(d1.logs.some((l) => JSON.stringify(l).includes('2222222222')), 'no key material in the log');
});

test.serial('raw unicast with min_ttl 64 / max_ttl 128: a priority-254 advert with TTL 255 is dropped (ttl), one with TTL 100 is obeyed', async (t) => {
  const d1 = await start('d1', 150, `      unicast_peer: [${B}]\n      min_ttl: 64\n      max_ttl: 128\n`);
  await d1.waitState('VI_1', 'master');
  const forged = (ttl: number) => encodeIpv4Vrrp({ version: 3, vrid: 51, priority: 254, maxAdverIntCs: 10, addresses: ['192.0.2.100'] },
    { src: B, dst: A, ttl, tos: 0xc0, id: 0 }, { pseudoHeader: true });
  await inject(lab, 'd2', A, [forged(255), forged(255), forged(20)], { gapMs: 30 });
  await waitFor(async () => (await dropped(d1, 'ttl')) === 3, { timeoutMs: 3000, what: 'three ttl drops' });
  t.is((await d1.instance('VI_1'))?.state, 'master');
  await inject(lab, 'd2', A, [forged(100)]);
  await d1.waitState('VI_1', 'backup', 3000);
});
