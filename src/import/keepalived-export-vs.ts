// `duet export keepalived`, virtual servers: virtual_server blocks with their real servers and
// checkers, and the track_file blocks FILE_CHECKs name. Each real server's checks are written
// from its resolved list (a virtual server's `checks` under each of its real servers, as
// keepalived has no shared checkers); a report names the YAML line the check was written on.

import { serviceKey } from '../ipvs/model.js';
import type { CheckConfig, CheckSpec, HttpCheckSpec, UdpCheckSpec } from '../check/types.js';
import type { Config, RealServerConfig, VirtualServerConfig } from '../config/schema.js';
import { CHECKER_TYPES, quoteWord } from './keepalived-words.js';
import { sec, type Path, type Writer } from './keepalived-export-writer.js';

const LB_KIND: Record<RealServerConfig['forward'], string> = { masq: 'NAT', route: 'DR', tunnel: 'TUN' };
const CHECKER_OF: Record<string, string> = Object.fromEntries(Object.entries(CHECKER_TYPES).map(([k, v]) => [v, k]));

type Raw = Record<string, unknown>;
const rec = (x: unknown): Raw => (x !== null && typeof x === 'object' ? x as Raw : {});
const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);

/** What the checkers share: the track_file paths (file_1 is the first), and whether script security is on. */
interface Ctx { files: string[]; secure: boolean }

export function exportVirtualServers(w: Writer, cfg: Config, raw: Raw): void {
  // keepalived wants a track_file defined before a FILE_CHECK names it: one per file, first.
  const files = [...new Set(cfg.virtualServers.flatMap((v) => v.realServers.flatMap((r) => r.checks.flatMap((c) => (c.spec.type === 'file' ? [c.spec.path] : [])))))];
  const ctx: Ctx = { files, secure: cfg.scripts.secure };
  files.forEach((f, n) => w.block(`track_file file_${n + 1}`, () => w.line(`file ${quoteWord(f) ?? f}`)));
  const rawList = list(raw['virtual_servers']);
  cfg.virtualServers.forEach((v, m) => virtualServer(w, v, m, rec(rawList[m]), ctx));
}

/** IPv4 prefix length → dotted netmask. */
function netmask(len: number): string {
  const m = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 255).join('.');
}

function virtualServer(w: Writer, v: VirtualServerConfig, m: number, raw: Raw, ctx: Ctx): void {
  const path = (...p: (string | number)[]): Path => ['virtual_servers', m, ...p];
  if (v.name !== serviceKey(v)) w.note(path('name'), `keepalived names no virtual server; the import names it ${serviceKey(v)}`);
  const kind = v.realServers[0]?.forward ?? v.sorryServer?.forward ?? 'masq';
  const head = v.kind === 'fwmark' ? `virtual_server fwmark ${v.fwmark}` : `virtual_server ${v.address} ${v.port}`;
  w.block(head, () => {
    w.line(`lb_algo ${v.scheduler}`);
    w.line(`lb_kind ${LB_KIND[kind]}`);
    // keepalived 2.2.7 defaults a virtual server without protocol to UDP: always say which.
    if (v.kind === 'addr') w.line(`protocol ${v.protocol.toUpperCase()}`);
    for (const f of v.schedulerFlags) w.line(f);
    if (v.onePacket) w.line('ops');
    if (v.persistenceTimeoutS > 0) {
      w.line(`persistence_timeout ${v.persistenceTimeoutS}`);
      const full = v.family === 4 ? 32 : 128;
      if (v.persistenceNetmaskLen !== full) w.line(`persistence_granularity ${v.family === 4 ? netmask(v.persistenceNetmaskLen) : v.persistenceNetmaskLen}`);
    }
    if (v.quorum !== 1) w.line(`quorum ${v.quorum}`);
    if (v.hysteresis !== 0) w.line(`hysteresis ${v.hysteresis}`);
    w.command('quorum_up', v.quorumUp, path('quorum_up'));
    w.command('quorum_down', v.quorumDown, path('quorum_down'));
    const s = v.sorryServer;
    if (s) {
      w.line(`sorry_server ${s.address} ${s.port}`);
      if (s.forward !== kind) w.line(`sorry_server_lvs_method ${LB_KIND[s.forward]}`);
      if (s.weight !== 1) w.lost(path('sorry_server', 'weight'), 'keepalived gives a sorry server weight 1');
    }
    const rawRs = list(raw['real_servers']);
    v.realServers.forEach((r, k) => realServer(w, r, kind, path('real_servers', k), rec(rawRs[k]), path(), ctx));
  });
  if (v.kind === 'fwmark' && v.family !== (v.realServers[0]?.family ?? 4)) w.lost(path('family'), 'keepalived takes a fwmark service\'s family from its real servers');
  if (v.slowStartMs > 0) w.lost(path('slow_start'), 'keepalived has no slow start: a recovered server gets its full weight at once');
  if (v.latencyWeight) w.lost(path('latency_weight'), 'keepalived has no latency-aware weights');
  const tunnel = v.realServers.find((r) => r.tunnel && (r.tunnel.type !== 'ipip'));
  if (tunnel) w.lost(raw['tunnel'] !== undefined ? path('tunnel') : path('real_servers'), 'GUE and GRE tunnels: keepalived has tun_type, which the import does not read back yet, so it is not written');
}

function realServer(w: Writer, r: RealServerConfig, vsKind: RealServerConfig['forward'], path: Path, raw: Raw, vsPath: Path, ctx: Ctx): void {
  w.block(`real_server ${r.address} ${r.port}`, () => {
    w.line(`weight ${r.weight}`);
    if (r.inhibitOnFailure) w.line('inhibit_on_failure');
    if (r.upperThreshold) w.line(`uthreshold ${r.upperThreshold}`);
    if (r.lowerThreshold) w.line(`lthreshold ${r.lowerThreshold}`);
    if (r.forward !== vsKind) w.line(`lvs_method ${LB_KIND[r.forward]}`);
    // Where the checks were written: the real server's own list, or the virtual server's.
    const base: Path = raw['checks'] !== undefined ? [...path, 'checks'] : [...vsPath, 'checks'];
    r.checks.forEach((c, j) => checker(w, c, r, [...base, j], ctx));
  });
}

function checker(w: Writer, c: CheckConfig, r: RealServerConfig, path: Path, ctx: Ctx): void {
  const s: CheckSpec = c.spec;
  const at = (f: string): Path => [...path, f];
  if (s.type === 'agent') { w.lost(path, 'keepalived has no agent check (HAProxy agent protocol): not written'); return; }
  if (s.type === 'file') {
    // keepalived follows the file with inotify: no interval, no retries.
    if (c.intervalMs !== 1000 || c.rise !== 1 || c.fall !== 1) w.lost(path, 'keepalived reads a track_file when it changes: interval, rise and fall have no equivalent');
    w.block('FILE_CHECK', () => { w.line(`track_file file_${ctx.files.indexOf(s.path) + 1}`); w.line(`weight ${s.weight}${s.reverse ? ' reverse' : ''}`); });
    return;
  }
  if (c.rise !== 1) w.lost(at('rise'), `keepalived brings a server back after one success (it has no rise for checkers); written as rise 1, not ${c.rise}`);
  w.block(CHECKER_OF[s.type]!, () => {
    w.line(`delay_loop ${sec(c.intervalMs)}`);
    w.line(`${s.type === 'exec' ? 'misc_timeout' : 'connect_timeout'} ${sec(s.timeoutMs)}`);
    w.line(`retry ${c.fall - 1}`);
    if (c.fall > 1) w.line(`delay_before_retry ${sec(c.retryDelayMs)}`);
    if ('target' in s) {
      if (s.target.address !== r.address) w.line(`connect_ip ${s.target.address}`);
      if (s.type !== 'ping' && s.target.port !== r.port) w.line(`connect_port ${s.target.port}`);
      if (s.target.bindAddress !== undefined) w.line(`bindto ${s.target.bindAddress}`);
    }
    switch (s.type) {
      case 'http': case 'https': http(w, s, path); break;
      case 'udp': udp(w, s); break;
      case 'dns':
        w.line(`type ${s.queryType}`);
        w.line(`name ${s.name === '' ? '.' : s.name}`);
        if (s.expect.length) w.lost(at('expect'), 'keepalived\'s DNS_CHECK checks the answer code only');
        break;
      case 'smtp':
        w.line(`helo_name ${s.heloName}`);
        if (s.ehlo) w.lost(at('ehlo'), 'keepalived\'s SMTP_CHECK says HELO');
        break;
      case 'exec':
        w.command('misc_path', s.argv, at('command'));
        if (s.dynamic) w.line('misc_dynamic');
        if (!s.policy.secure && ctx.secure) w.lost(at('insecure'), 'keepalived has script security for all scripts or none (enable_script_security)');
        break;
      default: break;
    }
  });
}

function http(w: Writer, s: HttpCheckSpec, path: Path): void {
  w.block('url', () => {
    w.line(`path ${s.path}`);
    w.line(`status_code ${s.status.map((x) => (x.from === x.to ? String(x.from) : `${x.from}-${x.to}`)).join(' ')}`);
    if (s.bodyDigest !== undefined) w.line(`digest ${s.bodyDigest}`);
    if (s.host !== undefined) w.line(`virtualhost ${s.host}`);
    if (s.bodyRegex !== undefined) {
      const q = quoteWord(s.bodyRegex);
      if (q === undefined) w.lost([...path, 'body_regex'], 'has a double quote, which a keepalived value cannot hold');
      else w.line(`regex ${q}`);
    }
  });
  if (s.method !== 'GET') w.lost([...path, 'method'], `keepalived's ${s.type === 'https' ? 'SSL_GET' : 'HTTP_GET'} sends GET`);
  if (s.tlsVerify) w.lost([...path, 'tls_verify'], 'keepalived\'s SSL_GET does not verify the certificate');
  if (s.tlsName !== undefined) w.lost([...path, 'tls_name'], 'not written: the import does not read keepalived\'s enable_sni back');
}

/** Bytes as keepalived's HEX_STR, masked nibbles as x. */
function hex(data: Uint8Array, mask?: Uint8Array): string {
  let out = '';
  data.forEach((b, i) => {
    const m = mask?.[i] ?? 0;
    out += (m & 0xf0 ? 'x' : (b >> 4).toString(16)) + (m & 0x0f ? 'x' : (b & 15).toString(16));
  });
  return out;
}

function udp(w: Writer, s: UdpCheckSpec): void {
  if (s.payload) w.line(`payload ${hex(s.payload)}`);
  if (s.requireReply) w.line(s.reply ? `require_reply ${hex(s.reply.data, s.reply.mask)}` : 'require_reply');
  if (s.minReplyLength !== 0) w.line(`min_reply_length ${s.minReplyLength}`);
  if (s.maxReplyLength !== 255) w.line(`max_reply_length ${s.maxReplyLength}`);
}
