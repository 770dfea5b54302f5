// `duet export keepalived`: duet's config → keepalived.conf, the way back from `duet import`.
// The loaded (normalized, defaults filled) config is written in keepalived 2.2.7's keywords, the
// ones the import reads (keepalived-words.ts holds the tables both use), with every value
// explicit where keepalived's default differs from duet's. What keepalived cannot express is
// reported with the YAML line it came from: `untranslated` (behaviour lost: the export is
// partial) or `notes` (nothing the director does is lost: names, logging, metrics). Pure: text
// in, text out; export-cli.ts does the I/O. virtual servers: keepalived-export-vs.ts.

import { LineCounter, parseDocument } from 'yaml';
import { locate, parseConfig, type ConfigIssue } from '../config/load.js';
import type { Config, InstanceConfig, NotifyConfig } from '../config/schema.js';
import { GARP_NAMES, quoteWord } from './keepalived-words.js';
import { sec, Writer, type ExportReport, type Path } from './keepalived-export-writer.js';
import { exportVirtualServers } from './keepalived-export-vs.js';
import type { ImportStatus } from './keepalived.js';

export interface ExportResult {
  status: ImportStatus;
  /** keepalived.conf text; '' when failed. */
  conf: string;
  /** Why the config does not load (the export then fails). */
  errors: ConfigIssue[];
  untranslated: ExportReport[];
  notes: ExportReport[];
}

/** Translate a duet config (YAML text) to keepalived.conf. `file` names it in errors. */
export function exportKeepalived(text: string, file: string): ExportResult {
  const loaded = parseConfig(text, file);
  if (!loaded.ok) return { status: 'failed', conf: '', errors: loaded.error, untranslated: [], notes: [] };
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const raw = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
  const w = new Writer((path) => lc.linePos(locate(doc, path, 'key').offset).line);
  const cfg = loaded.value;
  w.line(`# keepalived.conf exported by duet from ${file}`);
  globalDefs(w, cfg);
  for (const s of Object.values(cfg.vrrp.scripts)) vrrpScript(w, cfg, s);
  cfg.vrrp.instances.forEach((i, n) => instance(w, i, n));
  cfg.vrrp.syncGroups.forEach((g, n) => {
    w.block(`vrrp_sync_group ${g.name}`, () => {
      w.block('group', () => { for (const m of g.instances) w.line(m); });
      // Without it keepalived ignores the weights of its members' tracking (duet applies them).
      const weighted = cfg.vrrp.instances.some((i) => g.instances.includes(i.name) && [...i.trackInterfaces, ...i.trackScripts].some((t) => t.weight !== 0));
      if (weighted) w.line('sync_group_tracking_weight');
      notify(w, g.notify, ['vrrp', 'sync_groups', n, 'notify']);
    });
  });
  exportVirtualServers(w, cfg, raw);
  for (const k of ['log', 'metrics', 'control', 'hooks'] as const) {
    if (raw[k] !== undefined) w.note([k], `keepalived has no ${k === 'hooks' ? 'hook timeout (it does not kill a notify script)' : `${k} section`}; the director's behaviour does not depend on it`);
  }
  if (raw['bgp'] !== undefined) w.lost(['bgp'], 'keepalived has no BGP announcements (active-active)');
  if (raw['ipvs_sysctl'] !== undefined) w.lost(['ipvs_sysctl'], 'keepalived sets no IPVS sysctls: put them in /etc/sysctl.d');
  const byLine = (a: ExportReport, b: ExportReport): number => a.line - b.line || (a.field < b.field ? -1 : a.field > b.field ? 1 : 0);
  return { status: w.untranslated.length ? 'partial' : 'complete', conf: w.text(), errors: [], untranslated: w.untranslated.sort(byLine), notes: w.notes.sort(byLine) };
}

function globalDefs(w: Writer, cfg: Config): void {
  w.block('global_defs', () => {
    if (cfg.node.name !== undefined) w.line(`router_id ${cfg.node.name}`);
    if (cfg.node.stateDir !== undefined) w.note(['node', 'state_dir'], 'keepalived keeps no state files there');
    const p = cfg.scripts;
    // keepalived's default script user is keepalived_script (or, without that user, it refuses
    // secure scripts); duet's is root: say root when duet runs any program.
    if (p.user !== undefined) w.line(`script_user ${p.user.replace(':', ' ')}`);
    else if (runsPrograms(cfg)) w.line('script_user root');
    // keepalived without it runs scripts a non-root user could change, as duet's security: false.
    if (p.secure) w.line('enable_script_security');
    if (p.env.length) w.lost(['scripts', 'env'], 'keepalived passes no environment variables of its own to scripts');
    const rt = cfg.realtime;
    if (rt.vrrp) w.line(`vrrp_rt_priority ${rt.vrrp.priority}`);
    if (rt.check) w.line(`checker_rt_priority ${rt.check.priority}`);
    if ((rt.vrrp ?? rt.check)?.policy === 'fifo') w.lost(['realtime', 'policy'], 'keepalived schedules real-time threads with SCHED_RR only');
    if (rt.lockMemory) { w.line('vrrp_no_swap'); w.line('checker_no_swap'); }
    if (rt.advertThread) w.note(['realtime', 'advert_thread'], 'keepalived sends adverts from its VRRP process, which does nothing else: the same effect, with no lease');
    if (Object.keys(cfg.checkWorker).length > 0) w.note(['check_worker'], 'keepalived has no admission bounds for checks: it starts every due check at once');
    // keepalived sets the interval between gratuitous ARPs per interface, not per instance.
    const garp = [...new Set(cfg.vrrp.instances.map((i) => i.garp.intervalMs))];
    if (garp.length === 1 && garp[0] !== 0) w.line(`vrrp_garp_interval ${sec(garp[0]!)}`);
    if (garp.length > 1) cfg.vrrp.instances.forEach((i, n) => { if (i.garp.intervalMs !== 0) w.lost(['vrrp', 'instances', n, 'garp', 'interval'], 'keepalived has one vrrp_garp_interval for all instances, and these differ'); });
    const t = cfg.lvsTimeouts;
    if (t) {
      const parts = [['tcp', t.tcp], ['tcpfin', t.tcpFin], ['udp', t.udp]].filter(([, v]) => v !== undefined);
      if (parts.length) w.line(`lvs_timeouts ${parts.map(([k, v]) => `${String(k)} ${String(v)}`).join(' ')}`);
    }
    const sd = cfg.syncDaemon;
    if (sd) {
      if (sd.follow.kind === 'group') w.lost(['sync_daemon', 'sync_group'], 'keepalived\'s lvs_sync_daemon follows one VRRP instance, not a sync group');
      else if (sd.follow.kind === 'mesh') w.lost(['sync_daemon', 'mode'], 'keepalived\'s lvs_sync_daemon follows a VRRP instance; it has no mesh mode (master and backup daemons always on)');
      else {
        const opt = [['id', sd.syncId], ['maxlen', sd.maxLen], ['port', sd.mcastPort], ['ttl', sd.mcastTtl], ['group', sd.mcastGroup]].filter(([, v]) => v !== undefined);
        w.line(`lvs_sync_daemon ${sd.interface} ${sd.follow.name}${opt.map(([k, v]) => ` ${String(k)} ${String(v)}`).join('')}`);
      }
    }
  });
}

function runsPrograms(cfg: Config): boolean {
  const hooks = (n: Record<string, unknown>): boolean => Object.values(n).some((v) => v !== undefined);
  return Object.keys(cfg.vrrp.scripts).length > 0
    || cfg.vrrp.instances.some((i) => hooks(i.notify)) || cfg.vrrp.syncGroups.some((g) => hooks(g.notify))
    || cfg.virtualServers.some((v) => v.quorumUp || v.quorumDown || v.realServers.some((r) => r.checks.some((c) => c.spec.type === 'exec')));
}

function vrrpScript(w: Writer, cfg: Config, s: Config['vrrp']['scripts'][string]): void {
  const path = ['vrrp', 'scripts', s.name];
  w.block(`vrrp_script ${s.name}`, () => {
    w.command('script', s.command, [...path, 'command']);
    // keepalived reads whole seconds here.
    for (const [k, v] of [['interval', s.intervalMs], ['timeout', s.timeoutMs]] as const) {
      w.line(`${k} ${Math.max(1, Math.ceil(v / 1000))}`);
      if (v % 1000 !== 0) w.lost([...path, k], `keepalived takes whole seconds: written as ${Math.max(1, Math.ceil(v / 1000))}`);
    }
    if (s.weight !== 0) w.line(`weight ${s.weight}`);
    w.line(`rise ${s.rise}`);
    w.line(`fall ${s.fall}`);
  });
  if (s.insecure && cfg.scripts.secure) w.lost([...path, 'insecure'], 'keepalived has script security for all scripts or none (enable_script_security)');
}

function notify(w: Writer, n: NotifyConfig | Record<string, string[][]>, path: Path): void {
  const hooks = n as Record<string, string[][] | undefined>;
  for (const [state, cmds] of Object.entries(hooks)) {
    const cmd = cmds?.[0];
    if (cmd === undefined) continue;
    if (state === 'dual_master') { w.lost([...path, state], 'keepalived has no dual-master hook'); continue; }
    w.command(state === 'any' ? 'notify' : `notify_${state}`, cmd, [...path, state]);
    if (state === 'any') w.lost([...path, state], 'written as notify, but keepalived appends INSTANCE NAME STATE PRIORITY where duet passes NAME FROM TO REASON: adapt the script');
  }
}

/** duet's garp defaults (keepalived's): lower_prio_* follow master_*. The interval is global in keepalived (globalDefs). */
function garpLines(g: InstanceConfig['garp']): string[] {
  const dflt = { masterDelayMs: 5000, masterRepeat: 5, masterRefreshMs: 0, intervalMs: 0, lowerPrioRepeat: g.masterRepeat, lowerPrioDelayMs: g.masterDelayMs };
  const vals: [string, keyof typeof dflt, (v: number) => string][] = [
    ['master_delay', 'masterDelayMs', sec], ['master_repeat', 'masterRepeat', String], ['master_refresh', 'masterRefreshMs', sec],
    ['lower_prio_repeat', 'lowerPrioRepeat', String], ['lower_prio_delay', 'lowerPrioDelayMs', sec],
  ];
  const keyword = Object.fromEntries(Object.entries(GARP_NAMES).map(([k, v]) => [v, k]));
  return vals.filter(([, k]) => g[k] !== dflt[k]).map(([name, k, f]) => `${keyword[name]!} ${f(g[k])}`);
}

function instance(w: Writer, i: InstanceConfig, n: number): void {
  const path = (...p: (string | number)[]): Path => ['vrrp', 'instances', n, ...p];
  w.block(`vrrp_instance ${i.name}`, () => {
    w.line(`interface ${i.interface}`);
    w.line(`virtual_router_id ${i.vrid}`);
    w.line(`priority ${i.priority}`);
    w.line(`version ${i.version}`);
    w.line(`advert_int ${i.adverIntCs / 100}`);
    // keepalived clears nopreempt at priority 255 and preempt_delay with nopreempt, as duet ignores them.
    if (!i.preempt) w.line('nopreempt');
    else if (i.preemptDelayMs > 0) w.line(`preempt_delay ${sec(i.preemptDelayMs)}`);
    if (i.auth.type === 'pass') {
      const pass = quoteWord(i.auth.password ?? '');
      if (pass === undefined) w.lost(path('auth', 'password'), 'has a double quote, which a keepalived value cannot hold');
      else w.block('authentication', () => { w.line('auth_type PASS'); w.line(`auth_pass ${pass}`); });
    }
    w.block('virtual_ipaddress', () => {
      for (const v of i.vips) w.line(`${v.address}/${v.prefixLen}${v.dev !== undefined ? ` dev ${v.dev}` : ''}${v.label !== undefined ? ` label ${v.label}` : ''}`);
    });
    if (i.unicastSrcIp !== undefined) w.line(`unicast_src_ip ${i.unicastSrcIp}`);
    if (i.unicastPeers.length) {
      const ttl = i.ttlRange ? ` min_ttl ${i.ttlRange.min} max_ttl ${i.ttlRange.max}` : '';
      w.block('unicast_peer', () => { for (const p of i.unicastPeers) w.line(`${p}${ttl}`); });
    }
    // keepalived tracks the instance's own interface always (FAULT when down), and refuses to list it.
    const own = i.trackInterfaces.findIndex((t) => t.name === i.interface);
    if (own >= 0) w.note(path('track_interface', own), `not written: keepalived always tracks the instance's own interface (${i.interface}) and ignores it here`);
    const tracked = i.trackInterfaces.filter((t) => t.name !== i.interface);
    if (tracked.length) w.block('track_interface', () => { for (const t of tracked) w.line(t.weight ? `${t.name} weight ${t.weight}` : t.name); });
    if (i.trackScripts.length) w.block('track_script', () => { for (const t of i.trackScripts) w.line(`${t.name} weight ${t.weight}`); });
    notify(w, i.notify, path('notify'));
    for (const l of garpLines(i.garp)) w.line(l);
  });
  if (i.transport !== 'raw') w.lost(path('transport'), 'keepalived sends VRRP as IP protocol 112 only (no UDP transport)');
  if (i.udpAuth) w.lost(path('udp_auth'), 'keepalived has no HMAC authentication (it comes with the UDP transport)');
  if (i.version === 3 && i.family === 4 && !i.checksumPseudoHeader) w.lost(path('checksum_pseudo_header'), 'keepalived 2.2.7 always checksums the pseudo-header in VRRPv3 over IPv4');
  if (i.addressList !== 'strict') w.lost(path('address_list'), 'the import maps keepalived to strict address lists; lenient has no keepalived keyword');
  if (i.witness) w.lost(path('witness'), 'keepalived has no witness (reachability) tracking; a vrrp_script pinging the gateway comes closest');
  if (!i.preempt && i.priority === 255) w.lost(path('preempt'), 'keepalived clears nopreempt at priority 255');
}
