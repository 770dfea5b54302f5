// IPVS generic-netlink codec against vectors captured from ipvsadm 1.31 and Linux 6.1 (nlmon +
// tcpdump in the qemu VM; scripts/vm/capture-ipvs-vectors.sh). Every vector decodes to its .json
// and re-encodes byte for byte; the decoded meaning is checked against the ipvsadm command that
// produced it and against ipvsadm's own -Ln / --timeout / --daemon output of the same run (an
// independent oracle); duet's request builders produce ipvsadm's bytes where they mean the same.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMessage, decodeMessages, encodeMessage, encodeRequest, type IpvsMessage, type NetlinkMessage } from '../../src/ipvs/genl-codec.js';
import {
  destFromWire, destStatsFromWire, destToWire, ipvsRequest, serviceFromWire, statsFromWire, timeoutsFromWire, daemonFromWire, infoFromWire,
  type ServiceId,
} from '../../src/ipvs/genl-map.js';
import type { WireService } from '../../src/ipvs/genl-fields.js';
import { NO_FLAGS, type Destination, type Service, type ServiceFlags } from '../../src/ipvs/model.js';

const DIR = join(process.cwd(), 'test/vectors/ipvs');

interface VectorJson {
  source: string;
  step: string;
  command: string;
  direction: 'request' | 'reply';
  ipvsFamily: number;
  message: NetlinkMessage;
}
interface Vector extends VectorJson {
  name: string;
  bytes: Uint8Array;
  hex: string;
}
interface Step {
  id: string;
  command: string;
  exitCode: number;
  output: string;
  vectors: string[];
}

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const vectors: Vector[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.hex'))
  .sort()
  .map((f) => {
    const name = f.slice(0, -4);
    const hex = readFileSync(join(DIR, f), 'utf8').trim();
    const j = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as VectorJson;
    return { ...j, name, hex, bytes: fromHex(hex) };
  });
const index = JSON.parse(readFileSync(join(DIR, 'steps.json'), 'utf8')) as { kernel: string; ipvsadm: string; ipvsFamily: number; steps: Step[] };
const steps = new Map(index.steps.map((s) => [s.id, s]));
const stepId = (prefix: string): string => {
  const s = index.steps.find((x) => x.id.slice(3) === prefix);
  if (!s) throw new Error(`no step ${prefix}`);
  return s.id;
};
const ofStep = (prefix: string): Vector[] => vectors.filter((v) => v.step === stepId(prefix));
const ipvsOf = (v: Vector): IpvsMessage => {
  if (v.message.kind !== 'ipvs') throw new Error(`${v.name} is not an IPVS message`);
  return v.message;
};
const requestOf = (prefix: string): Vector => {
  const r = ofStep(prefix).filter((v) => v.direction === 'request' && ipvsOf(v).cmd !== 'get-info');
  if (r.length !== 1) throw new Error(`step ${prefix}: ${r.length} requests`);
  return r[0]!;
};
const ok = <T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T => {
  if (!r.ok) throw new Error(`not ok: ${JSON.stringify(r.error)}`);
  return r.value;
};

// ---------------------------------------------------------------------------------------------
// Every vector

test('the capture covers every command the codec handles, requests and replies', (t) => {
  t.true(vectors.length >= 140, `${vectors.length} vectors`);
  t.is(index.steps.length, new Set(vectors.map((v) => v.step)).size, 'every step left vectors');
  const reqCmds = new Set(vectors.filter((v) => v.direction === 'request').map((v) => ipvsOf(v).cmd));
  for (const c of ['new-service', 'set-service', 'del-service', 'get-service', 'new-dest', 'set-dest', 'del-dest', 'get-dest',
    'new-daemon', 'del-daemon', 'get-daemon', 'set-config', 'get-config', 'get-info', 'zero', 'flush'] as const) {
    t.true(reqCmds.has(c), `a ${c} request`);
  }
  const kinds = new Set(vectors.filter((v) => v.direction === 'reply').map((v) => (v.message.kind === 'ipvs' ? v.message.cmd : v.message.kind)));
  t.deepEqual([...kinds].sort(), ['ack', 'done', 'error', 'new-daemon', 'new-dest', 'new-service', 'set-config', 'set-info']);
});

test('every vector decodes to its .json', (t) => {
  for (const v of vectors) {
    const d = decodeMessage(v.bytes, { ipvsFamily: v.ipvsFamily });
    if (!d.ok) {
      t.fail(`${v.name}: ${d.error.reason}: ${d.error.detail}`);
      continue;
    }
    t.deepEqual(d.value, v.message, v.name);
  }
});

test('every request vector re-encodes byte for byte from its decoded form (seq, port from the vector)', (t) => {
  const reqs = vectors.filter((v) => v.direction === 'request');
  t.true(reqs.length >= 50);
  for (const v of reqs) t.is(toHex(encodeMessage(v.message)), v.hex, v.name);
});

test('every reply vector (dumps with stats, acks, errors, done) re-encodes byte for byte too', (t) => {
  for (const v of vectors.filter((x) => x.direction === 'reply')) t.is(toHex(encodeMessage(v.message)), v.hex, v.name);
});

test('attribute order survives JSON: re-encoding the parsed .json, not the decoder\'s object', (t) => {
  // The .json files were parsed from disk above; this pins that key order is what carries the
  // wire order (the requests have dest attributes in ipvsadm's order, not by number).
  const v = requestOf('add-dest-gue');
  t.deepEqual(Object.keys(ipvsOf(v).attrs.dest ?? {}), ['addrFamily', 'addr', 'port', 'fwdMethod', 'weight', 'tunType', 'tunPort', 'tunFlags', 'uThresh', 'lThresh']);
  t.is(toHex(encodeMessage(v.message)), v.hex);
});

test('a datagram of several messages splits into the same messages', (t) => {
  const dump = ofStep('list').filter((v) => v.direction === 'reply');
  const joined = Buffer.concat(dump.map((v) => Buffer.from(v.bytes)));
  const d = decodeMessages(Uint8Array.from(joined), { ipvsFamily: index.ipvsFamily });
  t.true(d.ok);
  if (d.ok) t.deepEqual(d.value, dump.map((v) => v.message));
});

test('with another family id, IPVS messages are "other" and keep their bytes', (t) => {
  const v = requestOf('add-tcp-rr');
  const d = ok(decodeMessage(v.bytes, { ipvsFamily: v.ipvsFamily + 1 }));
  t.is(d.kind, 'other');
  t.is(toHex(encodeMessage(d)), v.hex);
});

// ---------------------------------------------------------------------------------------------
// Meaning: services and destinations as the ipvsadm commands asked for them

const svc = (o: Partial<Service> & Pick<Service, 'kind'> & Record<string, unknown>): Service => ({
  family: 4, scheduler: 'rr', flags: NO_FLAGS, persistenceTimeoutS: 0, persistenceNetmaskLen: o.family === 6 ? 128 : 32, dests: new Map(), ...o,
} as Service);
const flags = (o: Partial<ServiceFlags>): ServiceFlags => ({ ...NO_FLAGS, ...o });

const SERVICE_STEPS: ReadonlyArray<[string, Service]> = [
  ['add-tcp-rr', svc({ kind: 'addr', protocol: 'tcp', address: '192.0.2.100', port: 80 })],
  ['add-tcp-persist', svc({ kind: 'addr', protocol: 'tcp', address: '192.0.2.100', port: 443, scheduler: 'wlc', flags: flags({ persistent: true }), persistenceTimeoutS: 300, persistenceNetmaskLen: 24 })],
  ['add-fwmark', svc({ kind: 'fwmark', fwmark: 10, scheduler: 'wrr' })],
  ['add-fwmark6', svc({ kind: 'fwmark', family: 6, fwmark: 11 })],
  ['add-ipv6', svc({ kind: 'addr', family: 6, protocol: 'tcp', address: '2001:db8::100', port: 80, scheduler: 'lc' })],
  ['add-ipv6-persist', svc({ kind: 'addr', family: 6, protocol: 'tcp', address: '2001:db8::100', port: 443, flags: flags({ persistent: true }), persistenceTimeoutS: 60, persistenceNetmaskLen: 64 })],
  ['add-udp-ops', svc({ kind: 'addr', protocol: 'udp', address: '192.0.2.100', port: 53, flags: flags({ onePacket: true }) })],
  ['add-sh-flags', svc({ kind: 'addr', protocol: 'tcp', address: '192.0.2.101', port: 80, scheduler: 'sh', flags: flags({ shPort: true, shFallback: true }) })],
  ['add-mh-flags', svc({ kind: 'addr', protocol: 'tcp', address: '192.0.2.102', port: 80, scheduler: 'mh', flags: flags({ mhPort: true, mhFallback: true }) })],
  ['add-sctp', svc({ kind: 'addr', protocol: 'sctp', address: '192.0.2.103', port: 9, scheduler: 'dh' })],
  ['add-local-svc', svc({ kind: 'addr', protocol: 'tcp', address: '192.0.2.200', port: 80 })],
  ['edit-svc-sched', svc({ kind: 'addr', protocol: 'tcp', address: '192.0.2.100', port: 80, scheduler: 'wrr' })],
];

for (const [step, want] of SERVICE_STEPS) {
  test(`ipvsadm ${step}: decodes to the service asked for, and duet's request is ipvsadm's byte for byte`, (t) => {
    const v = requestOf(step);
    const m = ipvsOf(v);
    t.is(m.cmd, step.startsWith('edit') ? 'set-service' : 'new-service', v.command);
    t.deepEqual(ok(serviceFromWire(m.attrs.service!)), want, v.command);
    const r = step.startsWith('edit') ? ipvsRequest.setService(want) : ipvsRequest.newService(want);
    t.is(toHex(encodeRequest(r, { ipvsFamily: v.ipvsFamily, seq: m.header.seq, port: m.header.port })), v.hex, v.command);
  });
}

test('ipvsadm --pe sip: the persistence engine name travels in IPVS_SVC_ATTR_PE_NAME', (t) => {
  const m = ipvsOf(requestOf('add-pe-sip'));
  t.is(m.attrs.service?.peName, 'sip');
  t.deepEqual(Object.keys(m.attrs.service ?? {}), ['af', 'protocol', 'addr', 'port', 'schedName', 'peName', 'flags', 'timeout', 'netmask']);
  t.like(ok(serviceFromWire(m.attrs.service!)), { protocol: 'udp', port: 5060, persistenceTimeoutS: 60 });
});

const dest = (o: Partial<Destination>): Destination => ({
  family: 4, address: '192.0.2.21', port: 80, forward: 'masq', weight: 1, upperThreshold: 0, lowerThreshold: 0,
  tunnelType: 'ipip', tunnelPort: 0, tunnelFlags: 'nocsum', ...o,
});

const DEST_STEPS: ReadonlyArray<[string, string, Destination]> = [
  ['add-dest-masq', 'tcp:192.0.2.100:80', dest({ weight: 3, upperThreshold: 100, lowerThreshold: 50 })],
  ['add-dest-route', 'tcp:192.0.2.100:80', dest({ address: '192.0.2.22', forward: 'route' })],
  ['add-dest-tunnel', 'tcp:192.0.2.100:80', dest({ address: '192.0.2.23', forward: 'tunnel', weight: 2 })],
  ['add-dest-gue', 'tcp:192.0.2.101:80', dest({ address: '192.0.2.31', forward: 'tunnel', tunnelType: 'gue', tunnelPort: 6080, tunnelFlags: 'remcsum' })],
  ['add-dest-gre', 'tcp:192.0.2.101:80', dest({ address: '192.0.2.32', forward: 'tunnel', tunnelType: 'gre', tunnelFlags: 'csum' })],
  ['add-dest-mixed', 'tcp:192.0.2.101:80', dest({ family: 6, address: '2001:db8::33', forward: 'tunnel' })],
  ['add-dest-ipv6', 'tcp:[2001:db8::100]:80', dest({ family: 6, address: '2001:db8::21', weight: 5 })],
  ['add-dest-fwmark', 'fwmark:10', dest({ address: '192.0.2.41', port: 0, forward: 'route', weight: 2 })],
  ['add-dest-udp', 'udp:192.0.2.100:53', dest({ port: 53 })],
  ['add-dest-local', 'tcp:192.0.2.200:80', dest({ address: '127.0.0.1' })],
  ['edit-dest-weight', 'tcp:192.0.2.100:80', dest({ weight: 7, upperThreshold: 100, lowerThreshold: 50 })],
];

const keyOfWire = (w: WireService): string => {
  if (w.fwmark) return `${w.af === 10 ? 'fwmark6' : 'fwmark'}:${w.fwmark}`;
  const p = w.protocol === 6 ? 'tcp' : w.protocol === 17 ? 'udp' : 'sctp';
  return w.af === 10 ? `${p}:[${w.addr}]:${w.port}` : `${p}:${w.addr}:${w.port}`;
};

for (const [step, svcKey, want] of DEST_STEPS) {
  test(`ipvsadm ${step}: decodes to the destination asked for; duet's dest attributes are ipvsadm's, in its order`, (t) => {
    const v = requestOf(step);
    const m = ipvsOf(v);
    t.is(m.cmd, step.startsWith('edit') ? 'set-dest' : 'new-dest', v.command);
    t.is(keyOfWire(m.attrs.service!), svcKey);
    t.deepEqual(ok(destFromWire(m.attrs.dest!)), want, v.command);
    t.is(JSON.stringify(destToWire(want)), JSON.stringify(m.attrs.dest), v.command);
  });
}

test('deletes, gets, timeouts, daemons, zero and flush: duet builds the bytes ipvsadm sent where they mean the same', (t) => {
  const same = (step: string, r: ReturnType<typeof ipvsRequest.flush>, which = 0): void => {
    const vs = ofStep(step).filter((v) => v.direction === 'request');
    const v = vs[which]!;
    const m = ipvsOf(v);
    t.is(toHex(encodeRequest(r, { ipvsFamily: v.ipvsFamily, seq: m.header.seq, port: m.header.port })), v.hex, `${step}: ${v.command}`);
  };
  same('add-tcp-rr', ipvsRequest.getInfo());
  same('list', ipvsRequest.getServices());
  // -Ln asks for the destinations of each service (in ipvsadm's sorted order).
  const dumps = ofStep('list').filter((v) => v.direction === 'request' && ipvsOf(v).cmd === 'get-dest');
  t.true(dumps.length >= 12);
  for (const v of dumps) {
    const w = ipvsOf(v).attrs.service!;
    const family = w.af === 10 ? 6 : 4;
    const id: ServiceId = w.fwmark
      ? { kind: 'fwmark', family, fwmark: w.fwmark }
      : { kind: 'addr', family, protocol: w.protocol === 6 ? 'tcp' : w.protocol === 17 ? 'udp' : 'sctp', address: w.addr!, port: w.port! };
    same('list', ipvsRequest.getDests(id), ofStep('list').filter((x) => x.direction === 'request').indexOf(v));
  }
  same('set-timeouts', ipvsRequest.setConfig({ tcp: 900, tcpFin: 120, udp: 300 }));
  same('get-timeouts', ipvsRequest.getConfig());
  same('start-daemon', ipvsRequest.newDaemon({ state: 'master', mcastIfn: 'lo', syncId: 5 }));
  same('start-daemon-backup', ipvsRequest.newDaemon({ state: 'backup', mcastIfn: 'd0', syncId: 6, syncMaxlen: 1400, mcastGroup: '224.0.0.82', mcastPort: 8849, mcastTtl: 2 }));
  same('get-daemons', ipvsRequest.getDaemons());
  same('zero-all', ipvsRequest.zero());
  same('flush', ipvsRequest.flush());
});

test('deletes and zero of one service: ipvsadm sends the whole service, duet its identity; the kernel needs only that', (t) => {
  const del = ipvsOf(requestOf('del-svc'));
  t.is(del.cmd, 'del-service');
  t.is(del.attrs.service?.schedName, '', 'ipvsadm fills the service in with an empty scheduler name');
  t.like(del.attrs.service, { af: 2, protocol: 6, addr: '192.0.2.100', port: 443 });
  t.like(ipvsOf(requestOf('del-fwmark')).attrs.service, { af: 2, fwmark: 10 });
  const dd = ipvsOf(requestOf('del-dest'));
  t.like(dd.attrs.dest, { addrFamily: 2, addr: '192.0.2.22', port: 80 });
  t.like(ipvsOf(requestOf('del-dest-mixed')).attrs.dest, { addrFamily: 10, addr: '2001:db8::33', port: 80 });
  t.like(ipvsOf(requestOf('zero-svc')).attrs.service, { addr: '192.0.2.200', port: 80 });
  t.deepEqual(ipvsRequest.delService(svc({ kind: 'addr', protocol: 'tcp', address: '192.0.2.100', port: 443 })).attrs,
    { service: { af: 2, protocol: 6, addr: '192.0.2.100', port: 443 } });
  t.deepEqual(ipvsRequest.delDaemon('backup').attrs, { daemon: { state: 2 } });
});

test('nested attributes: ipvsadm (libnl) sets NLA_F_NESTED, the kernel\'s dumps do not', (t) => {
  for (const v of vectors) {
    if (v.message.kind !== 'ipvs') continue;
    const hasNest = v.message.attrs.service !== undefined || v.message.attrs.dest !== undefined || v.message.attrs.daemon !== undefined;
    t.is(v.message.nlaNested, hasNest && v.direction === 'request', v.name);
  }
});

// ---------------------------------------------------------------------------------------------
// Errors: the errno ipvsadm turned into its message

test('kernel refusals decode to the errno ipvsadm reported, with the request echoed', (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['err-svc-exists', 'EEXIST', /Service already exists/],
    ['err-dest-exists', 'EEXIST', /Destination already exists/],
    ['err-no-dest', 'ENOENT', /No such destination/],
    ['err-no-svc', 'ESRCH', /No such service/],
    ['err-no-sched', 'ENOENT', /Scheduler or persistence engine not found/],
    ['err-daemon-mixed', 'EINVAL', /Invalid operation/],
  ];
  for (const [step, errno, text] of cases) {
    const s = steps.get(stepId(step))!;
    t.regex(s.output, text, step);
    t.not(s.exitCode, 0);
    const [req, rep] = ofStep(step);
    t.is(rep?.message.kind, 'error', step);
    if (rep?.message.kind !== 'error' || !req) continue;
    t.is(rep.message.errnoName, errno, step);
    const rm = ipvsOf(req);
    t.like(rep.message.request, { len: req.bytes.length, type: rm.header.type, flags: rm.header.flags, seq: rm.header.seq, port: rm.header.port });
    t.is(rep.message.requestPayload, req.hex.slice(32), `${step}: the whole request echoed (not capped)`);
  }
});

test('acks echo only the request header (NLM_F_CAPPED)', (t) => {
  const acks = vectors.filter((v) => v.message.kind === 'ack');
  t.true(acks.length >= 30);
  for (const v of acks) {
    if (v.message.kind !== 'ack') continue;
    t.is(v.message.header.flags & 0x100, 0x100, v.name);
    t.is(v.message.requestPayload, undefined, v.name);
  }
});

// ---------------------------------------------------------------------------------------------
// Dumps against ipvsadm's own output of the same run

const FWD: Record<string, string> = { masq: 'Masq', route: 'Route', tunnel: 'Tunnel', local: 'Local', bypass: 'Bypass' };
const hp = (family: number, a: string, p: number): string => (family === 6 ? `[${a}]:${p}` : `${a}:${p}`);

/** The service line of `ipvsadm -Ln` (print_service_entry), whitespace collapsed. */
function serviceLine(s: Service, w: WireService): string {
  const head = s.kind === 'fwmark' ? `FWM ${s.fwmark}${s.family === 6 ? ' IPv6' : ''}` : `${s.protocol.toUpperCase()} ${hp(s.family, s.address, s.port)}`;
  let line = `${head} ${s.scheduler}`;
  if (s.flags.persistent) {
    line += ` persistent ${s.persistenceTimeoutS}`;
    if (s.persistenceNetmaskLen !== (s.family === 4 ? 32 : 128)) {
      line += s.family === 4 ? ` mask ${[24, 16, 8, 0].map((sh) => ((w.netmask ?? 0) >>> sh) & 255).join('.')}` : ` mask ${s.persistenceNetmaskLen}`;
    }
    if (w.peName) line += ` pe ${w.peName}`;
  }
  if (s.flags.onePacket) line += ' ops';
  const sf = [s.flags.shFallback && 'sh-fallback', s.flags.shPort && 'sh-port', s.flags.mhFallback && 'mh-fallback', s.flags.mhPort && 'mh-port'].filter(Boolean);
  if (sf.length) line += ` (${sf.join(',')})`;
  return line;
}

/** `ipvsadm -Ln` as blocks: service line -> sorted destination lines, whitespace collapsed. */
function parseList(out: string): Map<string, string[]> {
  const blocks = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const raw of out.split('\n')) {
    const line = raw.trim().replace(/\s+/g, ' ');
    if (line === '' || /^(IP Virtual Server|Prot |-> RemoteAddress)/.test(line)) continue;
    if (line.startsWith('-> ')) cur!.push(line.slice(3));
    else blocks.set(line, (cur = []));
  }
  for (const v of blocks.values()) v.sort();
  return blocks;
}

/** The dump of one -Ln run: services in kernel order with the dests each GET_DEST dump returned. */
function dumpOf(step: string): Array<{ svc: Service; wire: WireService; dests: Array<{ d: Destination; active: number; inact: number; stats: ReturnType<typeof destStatsFromWire> }> }> {
  const out: ReturnType<typeof dumpOf> = [];
  let current: ReturnType<typeof dumpOf>[number] | undefined;
  const bySvc = new Map<string, ReturnType<typeof dumpOf>[number]>();
  for (const v of ofStep(step)) {
    if (v.message.kind !== 'ipvs') continue;
    const m = v.message;
    if (m.cmd === 'new-service' && v.direction === 'reply') {
      const e = { svc: ok(serviceFromWire(m.attrs.service!)), wire: m.attrs.service!, dests: [] };
      out.push(e);
      bySvc.set(keyOfWire(m.attrs.service!), e);
    } else if (m.cmd === 'get-dest' && v.direction === 'request') {
      current = bySvc.get(keyOfWire(m.attrs.service!));
    } else if (m.cmd === 'new-dest' && v.direction === 'reply') {
      const st = destStatsFromWire(m.attrs.dest!);
      current!.dests.push({ d: ok(destFromWire(m.attrs.dest!)), active: st.activeConns, inact: st.inactConns, stats: st });
    }
  }
  return out;
}

test('the dump decodes to exactly the table `ipvsadm -Ln` printed from the same replies', (t) => {
  const s = steps.get(stepId('list'))!;
  const want = parseList(s.output);
  const got = new Map<string, string[]>();
  for (const e of dumpOf('list')) {
    got.set(serviceLine(e.svc, e.wire), e.dests.map((x) => `${hp(x.d.family, x.d.address, x.d.port)} ${FWD[x.d.forward]} ${x.d.weight} ${x.active} ${x.inact}`).sort());
  }
  // ipvsadm sorts services; the kernel lists them by hash bucket.
  const sorted = (m: Map<string, string[]>): Array<[string, string[]]> => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  t.deepEqual(sorted(got), sorted(want));
  t.true(want.size >= 12, s.output);
});

test('stats: STATS64 and STATS agree and match `ipvsadm -Ln --stats --exact`', (t) => {
  const s = steps.get(stepId('list-stats'))!;
  // TCP  192.0.2.200:80    3    3    3    180    120
  const nums = s.output.split('\n').filter((l) => /^(TCP|\s+->).*\d\s*$/.test(l)).map((l) => l.trim().split(/\s+/).slice(-5).map(Number));
  t.is(nums.length, 2, s.output);
  const [e] = dumpOf('list-stats');
  if (!e) return t.fail('no service in the list-stats dump');
  const sv = statsFromWire(e.wire);
  t.deepEqual([sv.conns, sv.inpkts, sv.outpkts, sv.inbytes, sv.outbytes], nums[0]);
  t.true(sv.conns > 0, 'traffic was counted');
  t.deepEqual(statsFromWire({ stats: e.wire.stats! }), sv, 'the u32 STATS and the u64 STATS64 say the same');
  const d = e.dests[0]!.stats;
  t.deepEqual([d.conns, d.inpkts, d.outpkts, d.inbytes, d.outbytes], nums[1]);
  t.is(d.inactConns, sv.conns, 'three closed connections, inactive');
});

test('timeouts, daemons and info match ipvsadm\'s output', (t) => {
  const cfg = ofStep('get-timeouts').find((v) => v.message.kind === 'ipvs' && v.direction === 'reply')!;
  const tm = timeoutsFromWire(ipvsOf(cfg).attrs);
  t.regex(steps.get(stepId('get-timeouts'))!.output, new RegExp(`Timeout \\(tcp tcpfin udp\\): ${tm.tcp} ${tm.tcpFin} ${tm.udp}`));
  t.deepEqual(tm, { tcp: 900, tcpFin: 120, udp: 300 });

  const out = steps.get(stepId('get-daemons'))!.output;
  const daemons = ofStep('get-daemons').filter((v) => v.message.kind === 'ipvs' && v.direction === 'reply').map((v) => ok(daemonFromWire(ipvsOf(v).attrs.daemon!)));
  t.is(daemons.length, 2);
  for (const d of daemons) {
    t.true(out.includes(`${d.state} sync daemon (mcast=${d.mcastIfn}, syncid=${d.syncId}, maxlen=${d.syncMaxlen}, group=${d.mcastGroup}, port=${d.mcastPort}, ttl=${d.mcastTtl})`), out);
  }
  t.like(daemons[0], { state: 'master', mcastPort: 8848, mcastGroup: '224.0.0.81' });

  const info = ofStep('add-tcp-rr').find((v) => v.message.kind === 'ipvs' && v.message.cmd === 'set-info')!;
  const i = ok(infoFromWire(ipvsOf(info).attrs));
  t.regex(steps.get(stepId('list'))!.output, new RegExp(`^IP Virtual Server version ${i.version.replace(/\./g, '\\.')} \\(size=${i.connTabSize}\\)`));
});
