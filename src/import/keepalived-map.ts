// keepalived's blocks → duet's config sections (as plain YAML-ready values), each block with the
// file:line it came from. Every keyword is either translated, or reported: `untranslated` (the
// behaviour it asks for is lost: the translation is partial) or `notes` (nothing is lost, the
// keyword has no field because duet does the same without it, or a value was resolved). Pure:
// the one host lookup (a program's absolute path) is injected. docs/import-keepalived.md has the
// table this implements.

import { where, type KaNode, type Source } from './keepalived-parse.js';
import { bare, CHECKER_TYPES, expandRange, GARP_NAMES, number, splitCommand } from './keepalived-words.js';

export interface Report {
  at: Source;
  keyword: string;
  why: string;
}

/** A translated block: its YAML value and where it came from. */
export interface Block {
  at: Source;
  /** What it was, for the comment: "vrrp_instance VI_1". */
  what: string;
  value: Record<string, unknown>;
}

export interface Mapped {
  node?: Block;
  scripts?: Block;
  lvsTimeouts?: Block;
  realtime?: Block;
  vrrpScripts: { name: string; block: Block }[];
  instances: Block[];
  syncGroups: Block[];
  syncDaemon?: Block;
  virtualServers: Block[];
  untranslated: Report[];
  notes: Report[];
}

export interface MapOptions {
  /**
   * A program named without a path ("killall") → its absolute path, as keepalived finds it in
   * PATH; undefined when not found. Without it such programs are untranslated.
   */
  resolveProgram?: (name: string) => string | undefined;
  /** The top-level file, for a report about the whole config. */
  file: string;
}

const NO_EMAIL = 'duet sends no e-mail; run a notify hook (vrrp notify, quorum_up/quorum_down) instead';
const NO_ROUTES = 'duet manages only the VIPs of its VRRP instances; set routes and rules in the host network configuration or in a notify hook';
const NOTIFY_ARGS = 'written as notify.any, but its arguments differ: keepalived appends INSTANCE|GROUP NAME STATE PRIORITY, duet NAME FROM TO REASON (lower case states): adapt the script';
const NO_STATIC = 'duet manages only the VIPs of its VRRP instances; set static addresses in the host network configuration (ifupdown, systemd-networkd)';

/** Top-level keywords with a fixed reason (the rest: "no duet equivalent"). */
const TOP_REASONS: Record<string, string> = {
  static_ipaddress: NO_STATIC,
  static_routes: NO_ROUTES,
  static_rules: NO_ROUTES,
  net_namespace: 'duet runs in the network namespace it is started in (systemd NetworkNamespacePath=, ip netns exec)',
  vrrp_track_process: 'duet has no process tracker; use a vrrp_script (e.g. /usr/bin/pgrep -x NAME)',
  bfd_instance: 'duet has no BFD',
};

/** Keywords of one value (or none, or a fixed few): more words on their line are reported. */
const MAX_ARGS: Record<string, number> = {
  ...Object.fromEntries(['nopreempt', 'preempt', 'inhibit_on_failure', 'ops', 'enable_script_security', 'vrrp_no_swap', 'checker_no_swap', 'sync_group_tracking_weight', 'misc_dynamic', 'smtp_alert', 'alpha', 'omega', 'hashed', 'sh-port', 'sh-fallback', 'mh-port', 'mh-fallback'].map((k) => [k, 0])),
  ...Object.fromEntries(['interface', 'virtual_router_id', 'priority', 'advert_int', 'version', 'preempt_delay', 'unicast_src_ip', 'router_id', 'vrrp_version',
    'garp_master_delay', 'garp_master_repeat', 'garp_master_refresh', 'garp_interval', 'garp_lower_prio_repeat', 'garp_lower_prio_delay',
    'vrrp_garp_master_delay', 'vrrp_garp_master_repeat', 'vrrp_garp_master_refresh', 'vrrp_garp_interval', 'vrrp_garp_lower_prio_repeat', 'vrrp_garp_lower_prio_delay',
    'interval', 'timeout', 'rise', 'fall', 'lb_algo', 'lvs_sched', 'lb_kind', 'lvs_method', 'protocol', 'persistence_timeout', 'persistence_granularity',
    'delay_loop', 'connect_timeout', 'retry', 'delay_before_retry', 'virtualhost', 'quorum', 'hysteresis', 'uthreshold', 'lthreshold', 'sorry_server_lvs_method',
    'path', 'digest', 'connect_ip', 'connect_port', 'bindto', 'helo_name', 'type', 'name', 'misc_timeout', 'file', 'track_file', 'auth_type', 'auth_pass',
    'min_reply_length', 'max_reply_length', 'lvs_sync_daemon_interface', 'state', 'warmup', 'vrrp_rt_priority', 'checker_rt_priority'].map((k) => [k, 1])),
  ...Object.fromEntries(['group', 'url', 'authentication', 'virtual_ipaddress', 'unicast_peer', 'track_interface', 'track_script', 'global_defs', 'host',
    'HTTP_GET', 'SSL_GET', 'TCP_CHECK', 'UDP_CHECK', 'PING_CHECK', 'DNS_CHECK', 'SMTP_CHECK', 'MISC_CHECK', 'FILE_CHECK'].map((k) => [k, 0])),
  ...Object.fromEntries(['vrrp_instance', 'vrrp_script', 'vrrp_sync_group', 'virtual_server_group'].map((k) => [k, 1])),
  weight: 2,
  sorry_server: 2,
  script_user: 2,
  virtual_server: 2,
  real_server: 2,
};

interface Timing {
  interval?: number;
  timeout?: number;
  retry?: number;
  retryDelay?: number;
}

class Mapper {
  readonly out: Mapped = { vrrpScripts: [], instances: [], syncGroups: [], virtualServers: [], untranslated: [], notes: [] };
  private version: 2 | 3 = 2;
  private readonly garpDefaults: Record<string, number> = {};
  private readonly scriptNames = new Set<string>();
  private readonly instanceNames = new Set<string>();
  private readonly groups = new Map<string, KaNode>();
  private readonly trackFiles = new Map<string, KaNode>();
  private syncDaemonSource: { node: KaNode; iface: string; instance: string; extra: Record<string, unknown> } | undefined;
  private securityOn = false;
  private anyScript = false;

  constructor(private readonly o: MapOptions) {}

  lost(n: { at: Source; keyword: string }, why: string): void { this.out.untranslated.push({ at: n.at, keyword: n.keyword, why }); }
  note(n: { at: Source; keyword: string }, why: string): void { this.out.notes.push({ at: n.at, keyword: n.keyword, why }); }

  /** Words of a list block ("group { VI_1 VI_2 }" may put several on a line). */
  private words(n: KaNode): { word: string; node: KaNode }[] {
    return (n.children ?? []).flatMap((c) => [c.keyword, ...c.args].map((word) => ({ word, node: c })));
  }

  private num(n: KaNode, i: number, o: { min: number; max: number; fraction?: boolean }): number | undefined {
    const v = number(n.args[i], o);
    if (v === undefined) this.lost(n, n.args[i] === undefined ? 'missing value' : `invalid value '${n.args[i]}' (expected ${o.fraction ? 'a number' : 'a whole number'} ${o.min}..${o.max})`);
    return v;
  }

  /** A command from the node's words, its program made absolute; undefined (and reported) when not possible. */
  private command(n: KaNode, words = n.args): string[] | undefined {
    const argv = splitCommand(words.join(' '));
    if (typeof argv === 'string') { this.lost(n, argv); return undefined; }
    this.anyScript = true;
    const prog = argv[0]!;
    if (prog.startsWith('/')) return argv;
    const abs = prog.includes('/') ? undefined : this.o.resolveProgram?.(prog);
    if (abs === undefined) { this.lost(n, `program '${prog}' is not an absolute path and was not found in PATH (duet does no PATH search)`); return undefined; }
    this.note(n, `program '${prog}' resolved to ${abs} (duet does no PATH search)`);
    return [abs, ...argv.slice(1)];
  }

  /** Words after a keyword that takes fewer: reported, since no handler reads them. */
  private extraWords(nodes: readonly KaNode[]): void {
    for (const n of nodes) {
      const max = MAX_ARGS[n.keyword];
      if (max !== undefined && n.args.length > max) {
        this.lost(n, `${max === 0 ? 'takes no value' : `takes ${max === 1 ? 'one value' : `at most ${max} words`}`}: '${n.args.slice(max).join(' ')}' not read`);
      }
      if (n.children) this.extraWords(n.children);
    }
  }

  run(nodes: KaNode[]): Mapped {
    this.extraWords(nodes);
    // Blocks may come in any order: names other blocks refer to first.
    for (const n of nodes) {
      if (n.keyword === 'vrrp_script' && n.args[0]) this.scriptNames.add(n.args[0]);
      if (n.keyword === 'virtual_server_group' && n.args[0]) this.groups.set(n.args[0], n);
      if (n.keyword === 'track_file' && n.args[0]) this.trackFiles.set(n.args[0], n);
    }
    for (const n of nodes) if (n.keyword === 'global_defs') this.globalDefs(n);
    for (const n of nodes) if (n.keyword === 'vrrp_script') this.vrrpScript(n);
    for (const n of nodes) if (n.keyword === 'vrrp_instance') this.instance(n);
    for (const n of nodes) if (n.keyword === 'vrrp_sync_group') this.syncGroup(n);
    for (const n of nodes) if (n.keyword === 'virtual_server') this.virtualServer(n);
    for (const n of nodes) {
      if (['global_defs', 'vrrp_script', 'vrrp_instance', 'vrrp_sync_group', 'virtual_server', 'virtual_server_group', 'track_file'].includes(n.keyword)) continue;
      this.lost(n, TOP_REASONS[n.keyword] ?? 'no duet equivalent');
    }
    this.finishSyncDaemon();
    if (this.anyScript && !this.securityOn) {
      this.out.notes.push({ at: { file: this.o.file, line: 0 }, keyword: 'enable_script_security', why: 'absent: keepalived runs scripts a non-root user could change; duet refuses them (scripts.security: true, its default)' });
    }
    if (this.out.instances.length === 0 && this.out.virtualServers.length === 0) {
      this.out.untranslated.push({ at: { file: this.o.file, line: 0 }, keyword: 'vrrp_instance', why: 'none translated, and no virtual_server: the result has nothing to run' });
    }
    const byPlace = (a: Report, b: Report): number => (a.at.file < b.at.file ? -1 : a.at.file > b.at.file ? 1 : a.at.line - b.at.line);
    this.out.untranslated.sort(byPlace);
    this.out.notes.sort(byPlace);
    return this.out;
  }

  // ---- global_defs ----------------------------------------------------------------------------

  private globalDefs(g: KaNode): void {
    const node: Record<string, unknown> = {};
    const scripts: Record<string, unknown> = {};
    const timeouts: Record<string, unknown> = {};
    const realtime: Record<string, unknown> = {};
    for (const n of g.children ?? []) {
      switch (n.keyword) {
        case 'router_id': {
          const id = n.args[0] ?? '';
          if (/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(id)) node['name'] = id;
          else this.lost(n, `'${id}' is not a valid duet node name (1..64 of A-Z a-z 0-9 _ . -)`);
          break;
        }
        case 'script_user':
          if (n.args[0]) scripts['user'] = n.args[1] ? `${n.args[0]}:${n.args[1]}` : n.args[0];
          else this.lost(n, 'missing user');
          break;
        case 'enable_script_security':
          this.securityOn = true;
          scripts['security'] = true;
          break;
        case 'vrrp_version': {
          const v = this.num(n, 0, { min: 2, max: 3 });
          if (v !== undefined) this.version = v as 2 | 3;
          break;
        }
        case 'vrrp_garp_master_delay': case 'vrrp_garp_master_repeat': case 'vrrp_garp_master_refresh': case 'vrrp_garp_interval':
        case 'vrrp_garp_lower_prio_repeat': case 'vrrp_garp_lower_prio_delay': {
          const key = n.keyword.slice('vrrp_'.length);
          const v = this.garpValue(n, key);
          if (v !== undefined) this.garpDefaults[key] = v;
          break;
        }
        case 'lvs_timeouts': {
          for (let i = 0; i < n.args.length; i += 2) {
            const k = n.args[i]!;
            const v = number(n.args[i + 1], { min: 1, max: 86400 * 365 });
            if (['tcp', 'tcpfin', 'udp'].includes(k) && v !== undefined) timeouts[k] = v;
            else this.lost(n, `'${k} ${n.args[i + 1] ?? ''}': expected tcp, tcpfin or udp with seconds`);
          }
          break;
        }
        case 'lvs_sync_daemon': {
          const [iface, instance, ...rest] = n.args;
          if (!iface || !instance) { this.lost(n, 'expected INTERFACE VRRP_INSTANCE'); break; }
          const extra = this.syncOptions(n, rest);
          this.syncDaemonSource = { node: n, iface, instance, extra };
          break;
        }
        case 'notification_email': case 'notification_email_from': case 'smtp_server': case 'smtp_connect_timeout':
        case 'smtp_helo_name': case 'email_from':
          this.lost(n, NO_EMAIL);
          break;
        case 'vrrp_rt_priority': case 'checker_rt_priority': {
          // keepalived's policy is SCHED_RR, duet's default.
          const x = this.num(n, 0, { min: 1, max: 99 });
          if (x !== undefined) realtime[n.keyword === 'vrrp_rt_priority' ? 'vrrp_priority' : 'check_priority'] = x;
          break;
        }
        case 'vrrp_no_swap': case 'checker_no_swap':
          realtime['lock_memory'] = true;
          if (!(g.children ?? []).some((c) => c.keyword === (n.keyword === 'vrrp_no_swap' ? 'checker_no_swap' : 'vrrp_no_swap'))) this.note(n, 'duet locks the memory of its one process (checks included): realtime.lock_memory');
          break;
        case 'vrrp_strict':
          this.lost(n, 'duet does not enforce RFC strictness this way (it has no iptables rules and accepts v2 authentication)');
          break;
        default:
          this.lost(n, 'no duet equivalent');
      }
    }
    if (Object.keys(node).length) this.out.node = { at: g.at, what: 'global_defs', value: node };
    if (Object.keys(scripts).length) this.out.scripts = { at: g.at, what: 'global_defs (script_user, enable_script_security)', value: scripts };
    if (Object.keys(realtime).length) this.out.realtime = { at: g.at, what: 'global_defs (vrrp_rt_priority, checker_rt_priority, vrrp_no_swap, checker_no_swap)', value: realtime };
    if (Object.keys(timeouts).length) this.out.lvsTimeouts = { at: g.at, what: 'global_defs lvs_timeouts', value: timeouts };
  }

  /** lvs_sync_daemon's options after the instance: id, maxlen, port, ttl, group. */
  private syncOptions(n: KaNode, rest: string[]): Record<string, unknown> {
    const names: Record<string, [string, number, number]> = { id: ['syncid', 0, 255], maxlen: ['max_packet_len', 548, 65507], port: ['mcast_port', 1, 65535], ttl: ['mcast_ttl', 1, 255] };
    const out: Record<string, unknown> = {};
    for (let i = 0; i < rest.length; i += 2) {
      const k = rest[i]!, v = rest[i + 1];
      const spec = names[k];
      if (spec) {
        const x = number(v, { min: spec[1], max: spec[2] });
        if (x === undefined) this.lost(n, `${k}: invalid value '${v ?? ''}'`);
        else out[spec[0]] = x;
      } else if (k === 'group' && v) out['mcast_group'] = v;
      else this.lost(n, `'${k}': no duet equivalent`);
    }
    return out;
  }

  private garpValue(n: KaNode, key: string): number | undefined {
    switch (key) {
      case 'garp_master_delay': case 'garp_lower_prio_delay': return this.num(n, 0, { min: 0, max: 3600 });
      case 'garp_master_repeat': return this.num(n, 0, { min: 1, max: 100 });
      case 'garp_lower_prio_repeat': return this.num(n, 0, { min: 0, max: 100 });
      case 'garp_master_refresh': return this.num(n, 0, { min: 0, max: 86400 });
      case 'garp_interval': {
        const s = this.num(n, 0, { min: 0, max: 1, fraction: true });
        return s === undefined ? undefined : Math.round(s * 1000);
      }
      default: return undefined;
    }
  }

  // ---- vrrp_script ----------------------------------------------------------------------------

  private vrrpScript(b: KaNode): void {
    const name = b.args[0];
    if (!name) { this.lost(b, 'missing name'); return; }
    const v: Record<string, unknown> = {};
    let ok = true;
    for (const n of b.children ?? []) {
      switch (n.keyword) {
        case 'script': {
          const c = this.command(n);
          if (c) v['command'] = c;
          else ok = false;
          break;
        }
        case 'interval': case 'timeout': {
          const x = this.num(n, 0, { min: 0.01, max: 86400, fraction: true });
          if (x !== undefined) v[n.keyword] = x;
          break;
        }
        case 'rise': case 'fall': {
          const x = this.num(n, 0, { min: 1, max: 1000 });
          if (x !== undefined) v[n.keyword] = x;
          break;
        }
        case 'weight': {
          const x = this.num(n, 0, { min: -254, max: 254 });
          if (x !== undefined) v['weight'] = x;
          if (n.args[1] === 'reverse') this.lost(n, "'reverse': duet has no reversed script weight");
          break;
        }
        default:
          this.lost(n, n.keyword === 'user' ? 'duet runs every program as scripts.user (global_defs script_user)' : 'no duet equivalent');
      }
    }
    if (!v['command']) {
      this.lost(b, `${ok ? 'no script line (nothing to run): ' : ''}script '${name}' not translated, so the instances tracking it do not track it`);
      this.scriptNames.delete(name);
      return;
    }
    const prev = this.out.vrrpScripts.find((x) => x.name === name);
    if (prev) { this.lost(b, `duplicate of vrrp_script ${name} at ${where(prev.block.at)}, which is kept`); return; }
    this.out.vrrpScripts.push({ name, block: { at: b.at, what: `vrrp_script ${name}`, value: v } });
  }

  // ---- vrrp_instance --------------------------------------------------------------------------

  private instance(b: KaNode): void {
    const name = b.args[0];
    if (!name) { this.lost(b, 'missing name'); return; }
    const v: Record<string, unknown> = { name };
    const vips: unknown[] = [];
    const vipLines = new Map<string, number>();
    const peers: string[] = [];
    const ttl: { min?: number; max?: number } = {};
    const trackIf: unknown[] = [];
    const trackScript: unknown[] = [];
    const notify: Record<string, string[]> = {};
    const garp: Record<string, number> = { ...this.garpDefaults };
    let version: number = this.version;
    let stateNode: KaNode | undefined;
    for (const n of b.children ?? []) {
      switch (n.keyword) {
        case 'state':
          stateNode = n;
          this.note(n, 'duet always starts as BACKUP and the election picks the master (keepalived MASTER only shortens the first election)');
          break;
        case 'interface': if (n.args[0]) v['interface'] = n.args[0]; else this.lost(n, 'missing value'); break;
        case 'virtual_router_id': { const x = this.num(n, 0, { min: 1, max: 255 }); if (x !== undefined) v['vrid'] = x; break; }
        case 'priority': { const x = this.num(n, 0, { min: 1, max: 255 }); if (x !== undefined) v['priority'] = x; break; }
        case 'advert_int': { const x = this.num(n, 0, { min: 0.01, max: 255, fraction: true }); if (x !== undefined) v['advert_int'] = x; break; }
        case 'version': { const x = this.num(n, 0, { min: 2, max: 3 }); if (x !== undefined) version = x; break; }
        case 'nopreempt': v['preempt'] = false; break;
        case 'preempt': v['preempt'] = true; break;
        case 'preempt_delay': { const x = this.num(n, 0, { min: 0, max: 1000, fraction: true }); if (x !== undefined) v['preempt_delay'] = x; break; }
        case 'authentication': this.auth(n, v); break;
        case 'virtual_ipaddress':
          for (const c of n.children ?? []) {
            const prev = vipLines.get(c.keyword.replace(/\/(32|128)$/, ''));
            if (prev !== undefined) { this.lost(c, `duplicate of the VIP on line ${prev}: duet lists an address once (keepalived adds it once but advertises it twice)`); continue; }
            vipLines.set(c.keyword.replace(/\/(32|128)$/, ''), c.at.line);
            vips.push(this.vip(c));
          }
          break;
        case 'unicast_src_ip': if (n.args[0]) v['unicast_src_ip'] = bare(n.args[0]); else this.lost(n, 'missing value'); break;
        case 'unicast_peer': for (const c of n.children ?? []) this.peer(c, peers, ttl); break;
        case 'track_interface': for (const c of n.children ?? []) { const x = this.tracked(c, 'weight'); if (x !== undefined) trackIf.push(x); } break;
        case 'track_script':
          for (const c of n.children ?? []) {
            if (!this.scriptNames.has(c.keyword)) { this.lost(c, `script '${c.keyword}' is not defined or was not translated`); continue; }
            const x = this.tracked(c, 'weight');
            if (x !== undefined) trackScript.push(x);
          }
          break;
        case 'notify_master': case 'notify_backup': case 'notify_fault': case 'notify_stop': case 'notify': {
          const c = this.command(n);
          if (c) notify[n.keyword === 'notify' ? 'any' : n.keyword.slice('notify_'.length)] = c;
          if (c && n.keyword === 'notify') this.lost(n, NOTIFY_ARGS);
          break;
        }
        case 'garp_master_delay': case 'garp_master_repeat': case 'garp_master_refresh': case 'garp_interval':
        case 'garp_lower_prio_repeat': case 'garp_lower_prio_delay': {
          const x = this.garpValue(n, n.keyword);
          if (x !== undefined) garp[n.keyword] = x;
          break;
        }
        case 'lvs_sync_daemon_interface':
          if (!n.args[0]) this.lost(n, 'missing value');
          else if (this.syncDaemonSource) this.lost(n, `duet runs one sync daemon, already following ${this.syncDaemonSource.instance} (${where(this.syncDaemonSource.node.at)})`);
          else this.syncDaemonSource = { node: n, iface: n.args[0], instance: name, extra: {} };
          break;
        case 'smtp_alert': this.lost(n, NO_EMAIL); break;
        case 'virtual_routes': case 'virtual_rules': this.lost(n, NO_ROUTES); break;
        case 'use_vmac': case 'vmac_xmit_base': this.lost(n, 'duet has no VMAC interfaces: the VIPs are added to the interface itself'); break;
        default: this.lost(n, 'no duet equivalent');
      }
    }
    if (v['interface'] === undefined) { this.lost(b, `instance ${name} not translated: no interface`); return; }
    if (v['vrid'] === undefined) { this.lost(b, `instance ${name} not translated: no virtual_router_id`); return; }
    if (vips.length === 0) { this.lost(b, `instance ${name} not translated: no virtual_ipaddress (duet needs at least one)`); return; }
    // keepalived's own resets (vrrp.c, vrrp_complete_instance), so the result means what ran.
    const cleared = (what: string, why: string): void => { this.note(stateNode ?? b, `${what} not written: keepalived clears it ${why}`); };
    if (v['preempt'] === false && v['priority'] === 255) { delete v['preempt']; cleared('nopreempt', 'with priority 255'); }
    if (stateNode?.args[0]?.toUpperCase() === 'MASTER') {
      if (v['preempt'] === false) { delete v['preempt']; cleared('nopreempt', 'with initial state MASTER'); }
      if (v['preempt_delay'] !== undefined) { delete v['preempt_delay']; cleared('preempt_delay', 'with initial state MASTER'); }
    }
    if (v['preempt'] === false && v['preempt_delay'] !== undefined) { delete v['preempt_delay']; cleared('preempt_delay', 'with nopreempt'); }
    v['version'] = version;
    if (version === 3 && v['auth'] !== undefined) {
      this.lost(b, 'authentication: VRRPv3 has none (keepalived ignores it with version 3)');
      delete v['auth'];
    }
    const ordered: Record<string, unknown> = {
      name, interface: v['interface'], vrid: v['vrid'],
      ...(v['priority'] !== undefined ? { priority: v['priority'] } : {}),
      version, ...pick(v, ['advert_int', 'preempt', 'preempt_delay', 'auth']),
      virtual_ipaddress: vips,
      ...pick(v, ['unicast_src_ip']),
      ...(peers.length ? { unicast_peer: peers } : {}),
      ...(ttl.min !== undefined ? { min_ttl: ttl.min } : {}),
      ...(ttl.max !== undefined ? { max_ttl: ttl.max } : {}),
      ...(trackIf.length ? { track_interface: trackIf } : {}),
      ...(trackScript.length ? { track_script: trackScript } : {}),
      ...(Object.keys(notify).length ? { notify } : {}),
      ...(Object.keys(garp).length ? { garp: renameGarp(garp) } : {}),
    };
    this.instanceNames.add(name);
    this.out.instances.push({ at: b.at, what: `vrrp_instance ${name}`, value: ordered });
  }

  private auth(n: KaNode, v: Record<string, unknown>): void {
    let type: string | undefined, pass: string | undefined;
    for (const c of n.children ?? []) {
      if (c.keyword === 'auth_type') type = c.args[0];
      else if (c.keyword === 'auth_pass') pass = c.args[0];
      else this.lost(c, 'no duet equivalent');
    }
    if (type === 'PASS' && pass !== undefined) {
      // keepalived keeps the first 8 bytes of a longer password.
      const bytes = Buffer.from(pass, 'utf8');
      if (bytes.length > 8) this.note(n, 'auth_pass longer than 8 bytes: keepalived and duet use the first 8');
      v['auth'] = { type: 'pass', password: bytes.subarray(0, 8).toString('utf8') };
    } else if (type === 'AH') this.lost(n, 'auth_type AH: duet supports PASS only (AH is deprecated, RFC 3768)');
    else this.lost(n, 'expected auth_type PASS with auth_pass');
  }

  /** "ADDR[/LEN] [dev D] [label L] [brd B] [scope S] ..." → "ADDR/LEN" or {address, dev, label}. */
  private vip(c: KaNode): unknown {
    const address = c.keyword;
    const out: Record<string, string> = { address };
    for (let i = 0; i < c.args.length; i++) {
      const k = c.args[i]!;
      const val = c.args[i + 1];
      if ((k === 'dev' || k === 'label') && val !== undefined) { out[k] = val; i++; }
      else if (['brd', 'broadcast', 'scope', 'preferred_lft', 'valid_lft'].includes(k) && val !== undefined) {
        this.lost(c, `'${k} ${val}': duet adds a VIP with only its address, prefix, dev and label`);
        i++;
      } else this.lost(c, `'${k}': no duet equivalent for a VIP`);
    }
    return out['dev'] === undefined && out['label'] === undefined ? address : out;
  }

  private peer(c: KaNode, peers: string[], ttl: { min?: number; max?: number }): void {
    peers.push(bare(c.keyword));
    for (let i = 0; i < c.args.length; i += 2) {
      const k = c.args[i]!;
      const x = number(c.args[i + 1], { min: 0, max: 255 });
      if ((k === 'min_ttl' || k === 'max_ttl') && x !== undefined) {
        const key = k === 'min_ttl' ? 'min' : 'max';
        if (ttl[key] !== undefined && ttl[key] !== x) this.lost(c, `${k}: duet has one ${k} per instance, kept ${ttl[key]}`);
        else ttl[key] = x;
      } else this.lost(c, `'${k}': no duet equivalent for a unicast peer`);
    }
  }

  /** "NAME [weight N]" → "NAME" or {name, weight}. */
  private tracked(c: KaNode, key: string): unknown {
    if (c.args.length === 0) return c.keyword;
    if (c.args[0] === key) {
      const w = number(c.args[1], { min: -254, max: 254 });
      if (w === undefined) { this.lost(c, `invalid weight '${c.args[1] ?? ''}' (expected -254..254)`); return c.keyword; }
      if (c.args[2] === 'reverse') this.lost(c, "'reverse': duet has no reversed weight");
      return { name: c.keyword, weight: w };
    }
    this.lost(c, `'${c.args.join(' ')}': no duet equivalent`);
    return c.keyword;
  }

  // ---- vrrp_sync_group ------------------------------------------------------------------------

  private syncGroup(b: KaNode): void {
    const name = b.args[0];
    if (!name) { this.lost(b, 'missing name'); return; }
    const members: string[] = [];
    const notify: Record<string, string[]> = {};
    for (const n of b.children ?? []) {
      if (n.keyword === 'group') {
        for (const { word, node } of this.words(n)) {
          if (this.instanceNames.has(word)) members.push(word);
          else this.lost(node, `instance '${word}' is not defined or was not translated`);
        }
      } else if (['notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'notify'].includes(n.keyword)) {
        const c = this.command(n);
        if (c) notify[n.keyword === 'notify' ? 'any' : n.keyword.slice('notify_'.length)] = c;
        if (c && n.keyword === 'notify') this.lost(n, NOTIFY_ARGS);
      } else if (n.keyword === 'smtp_alert') this.lost(n, NO_EMAIL);
      else if (n.keyword === 'sync_group_tracking_weight') this.note(n, 'duet applies tracking weights in sync groups without it');
      else if (this.instanceNames.has(n.keyword)) this.lost(n, 'an instance name outside group { }: keepalived 2 does not read this old form either');
      else this.lost(n, 'no duet equivalent in a sync group');
    }
    if (members.length === 0) { this.lost(b, `sync group ${name} not translated: no translated instances`); return; }
    this.out.syncGroups.push({ at: b.at, what: `vrrp_sync_group ${name}`, value: { name, instances: members, ...(Object.keys(notify).length ? { notify } : {}) } });
  }

  private finishSyncDaemon(): void {
    const s = this.syncDaemonSource;
    if (!s) return;
    if (!this.instanceNames.has(s.instance)) { this.lost(s.node, `instance '${s.instance}' is not defined or was not translated`); return; }
    this.out.syncDaemon = { at: s.node.at, what: s.node.keyword, value: { interface: s.iface, instance: s.instance, ...s.extra } };
  }

  // ---- virtual_server -------------------------------------------------------------------------

  /** The identities a virtual_server line stands for: itself, or each member of its group. */
  private identities(b: KaNode): Record<string, unknown>[] | undefined {
    const [a0, a1] = b.args;
    if (a0 === 'fwmark') {
      const m = number(a1, { min: 1, max: 4294967295 });
      if (m === undefined) { this.lost(b, `invalid fwmark '${a1 ?? ''}'`); return undefined; }
      return [{ fwmark: m }];
    }
    if (a0 === 'group') {
      const g = a1 === undefined ? undefined : this.groups.get(a1);
      if (!g) { this.lost(b, `no virtual_server_group '${a1 ?? ''}'`); return undefined; }
      const out: Record<string, unknown>[] = [];
      for (const c of g.children ?? []) {
        if (c.keyword === 'fwmark') {
          const m = number(c.args[0], { min: 1, max: 4294967295 });
          if (m === undefined) this.lost(c, `invalid fwmark '${c.args[0] ?? ''}'`);
          else out.push({ fwmark: m });
          continue;
        }
        const port = number(c.args[0], { min: 0, max: 65535 });
        const addrs = expandRange(bare(c.keyword));
        if (port === undefined || !addrs) { this.lost(c, 'expected ADDRESS[-LAST] PORT or fwmark N'); continue; }
        out.push(...addrs.map((address) => ({ address, port })));
      }
      this.note(b, `group ${a1 ?? ''}: one duet virtual server per member (${out.length}), as keepalived programs one IPVS service each`);
      return out;
    }
    const port = number(a1, { min: 0, max: 65535 });
    if (a0 === undefined || port === undefined) { this.lost(b, 'expected ADDRESS PORT, fwmark N or group NAME'); return undefined; }
    return [{ address: bare(a0), port }];
  }

  private virtualServer(b: KaNode): void {
    const ids = this.identities(b);
    if (!ids) return;
    const v: Record<string, unknown> = {};
    const timing: Timing = {};
    const realServers: Record<string, unknown>[] = [];
    const ctx = { host: undefined as string | undefined };
    let sorry: Record<string, unknown> | undefined;
    let lbKind: string | undefined;
    const realNodes: KaNode[] = [];
    for (const n of b.children ?? []) {
      switch (n.keyword) {
        case 'lb_algo': case 'lvs_sched': if (n.args[0]) v['scheduler'] = n.args[0]; else this.lost(n, 'missing value'); break;
        case 'lb_kind': case 'lvs_method': {
          const k = this.lbKind(n);
          if (k) lbKind = k;
          break;
        }
        case 'protocol': {
          const p = n.args[0]?.toLowerCase();
          if (p === 'tcp' || p === 'udp' || p === 'sctp') v['protocol'] = p;
          else this.lost(n, `protocol '${n.args[0] ?? ''}': duet has tcp, udp and sctp`);
          break;
        }
        case 'persistence_timeout': {
          const x = n.args.length ? this.num(n, 0, { min: 0, max: 31 * 86400 }) : 360;
          if (x !== undefined) v['persistence_timeout'] = x;
          break;
        }
        case 'persistence_granularity': if (n.args[0]) v['persistence_granularity'] = /^\d+$/.test(n.args[0]) ? Number(n.args[0]) : n.args[0]; break;
        case 'ops': v['one_packet'] = true; break;
        case 'hashed': this.note(n, 'implied by the sh/mh schedulers in duet'); break;
        case 'sh-port': case 'sh-fallback': case 'mh-port': case 'mh-fallback':
          v['scheduler_flags'] = [...((v['scheduler_flags'] as string[] | undefined) ?? []), n.keyword];
          break;
        case 'delay_loop': { const x = this.num(n, 0, { min: 0.05, max: 86400, fraction: true }); if (x !== undefined) timing.interval = x; break; }
        case 'connect_timeout': case 'retry': case 'delay_before_retry': this.timing(n, timing); break;
        case 'virtualhost': if (n.args[0]) ctx.host = n.args[0]; break;
        case 'inhibit_on_failure': v['inhibit_on_failure'] = true; break;
        case 'quorum': case 'hysteresis': {
          const x = this.num(n, 0, { min: n.keyword === 'quorum' ? 1 : 0, max: 4294967295 });
          if (x !== undefined) v[n.keyword] = x;
          break;
        }
        case 'quorum_up': case 'quorum_down': { const c = this.command(n); if (c) v[n.keyword] = c; break; }
        case 'sorry_server': {
          const port = n.args[1] === undefined ? undefined : number(n.args[1], { min: 0, max: 65535 });
          if (!n.args[0] || (n.args[1] !== undefined && port === undefined)) { this.lost(n, 'expected ADDRESS [PORT]'); break; }
          sorry = { address: bare(n.args[0]), ...(port !== undefined ? { port } : {}) };
          break;
        }
        case 'sorry_server_lvs_method': { const k = this.lbKind(n); if (k && sorry) sorry['lb_kind'] = k; break; }
        case 'real_server': realNodes.push(n); break;
        case 'alpha': this.lost(n, 'duet counts a new real server healthy until its checks fail (keepalived without alpha)'); break;
        case 'omega': case 'sorry_server_inhibit': case 'smtp_alert': this.lost(n, n.keyword === 'smtp_alert' ? NO_EMAIL : 'no duet equivalent'); break;
        default: this.lost(n, 'no duet equivalent');
      }
    }
    for (const n of realNodes) {
      const r = this.realServer(n, timing, ctx.host);
      if (r) realServers.push(r);
    }
    if (lbKind === undefined) this.note(b, 'no lb_kind: keepalived defaults to NAT, written as lb_kind: nat (duet requires it)');
    for (const id of ids) {
      const value: Record<string, unknown> = {
        ...id,
        ...pick(v, ['protocol', 'scheduler', 'scheduler_flags']),
        lb_kind: lbKind ?? 'nat',
        ...pick(v, ['persistence_timeout', 'persistence_granularity', 'one_packet', 'inhibit_on_failure', 'quorum', 'hysteresis', 'quorum_up', 'quorum_down']),
        ...(sorry ? { sorry_server: sorry } : {}),
        real_servers: realServers,
      };
      if (value['protocol'] !== undefined && value['fwmark'] !== undefined) delete value['protocol'];
      const what = `virtual_server ${b.args.join(' ')}${ids.length > 1 ? ` (${String(id['address'] ?? `fwmark ${String(id['fwmark'])}`)}${id['port'] !== undefined ? ` ${String(id['port'])}` : ''})` : ''}`;
      this.out.virtualServers.push({ at: b.at, what, value });
    }
  }

  private lbKind(n: KaNode): string | undefined {
    const k = n.args[0]?.toUpperCase();
    if (k === 'NAT' || k === 'DR' || k === 'TUN') return k.toLowerCase();
    this.lost(n, `'${n.args[0] ?? ''}': duet has NAT, DR and TUN`);
    return undefined;
  }

  private timing(n: KaNode, t: Timing): void {
    switch (n.keyword) {
      case 'connect_timeout': { const x = this.num(n, 0, { min: 0.01, max: 3600, fraction: true }); if (x !== undefined) t.timeout = x; break; }
      case 'retry': { const x = this.num(n, 0, { min: 0, max: 99 }); if (x !== undefined) t.retry = x; break; }
      case 'delay_before_retry': { const x = this.num(n, 0, { min: 0.05, max: 86400, fraction: true }); if (x !== undefined) t.retryDelay = x; break; }
      case 'delay_loop': { const x = this.num(n, 0, { min: 0.05, max: 86400, fraction: true }); if (x !== undefined) t.interval = x; break; }
    }
  }

  private realServer(b: KaNode, vsTiming: Timing, host: string | undefined): Record<string, unknown> | undefined {
    const address = b.args[0];
    if (!address) { this.lost(b, 'missing address'); return undefined; }
    const port = b.args[1] === undefined ? undefined : number(b.args[1], { min: 0, max: 65535 });
    if (b.args[1] !== undefined && port === undefined) { this.lost(b, `invalid port '${b.args[1]}'`); return undefined; }
    const r: Record<string, unknown> = { address: bare(address), ...(port !== undefined ? { port } : {}) };
    const timing: Timing = { ...vsTiming };
    const checks: Record<string, unknown>[] = [];
    const checkers: KaNode[] = [];
    for (const n of b.children ?? []) {
      switch (n.keyword) {
        case 'weight': { const x = this.num(n, 0, { min: 0, max: 65535 }); if (x !== undefined) r['weight'] = x; break; }
        case 'inhibit_on_failure': r['inhibit_on_failure'] = true; break;
        case 'uthreshold': case 'lthreshold': {
          const x = this.num(n, 0, { min: 0, max: 65535 });
          if (x !== undefined) r[n.keyword === 'uthreshold' ? 'upper_threshold' : 'lower_threshold'] = x;
          break;
        }
        case 'lvs_method': { const k = this.lbKind(n); if (k) r['lb_kind'] = k; break; }
        case 'delay_loop': case 'connect_timeout': case 'retry': case 'delay_before_retry': this.timing(n, timing); break;
        case 'notify_up': case 'notify_down': this.lost(n, 'duet has no per-real-server hooks; follow check changes with `duet events`'); break;
        case 'HTTP_GET': case 'SSL_GET': case 'TCP_CHECK': case 'UDP_CHECK': case 'PING_CHECK': case 'DNS_CHECK': case 'SMTP_CHECK': case 'MISC_CHECK': case 'FILE_CHECK':
          checkers.push(n);
          break;
        default: this.lost(n, 'no duet equivalent');
      }
    }
    for (const n of checkers) checks.push(...this.checker(n, timing, host));
    // Always written: an empty list means "never checked", as keepalived without a checker.
    r['checks'] = checks;
    return r;
  }

  // ---- checkers -------------------------------------------------------------------------------

  private checker(b: KaNode, rsTiming: Timing, vsHost: string | undefined): Record<string, unknown>[] {
    const t: Timing = { ...rsTiming };
    const net: Record<string, unknown> = {};
    const own: Record<string, unknown> = {};
    const urls: Record<string, unknown>[] = [];
    const hosts: Record<string, unknown>[] = [];
    let host = vsHost;
    const type = CHECKER_TYPES[b.keyword]!;
    let execTimeout: number | undefined;
    let trackFile: KaNode | undefined;
    let fileWeight: KaNode | undefined;
    for (const n of b.children ?? []) {
      const k = n.keyword;
      if (['connect_timeout', 'retry', 'delay_before_retry', 'delay_loop'].includes(k)) { this.timing(n, t); continue; }
      if (type !== 'exec' && type !== 'file' && this.network(n, net, type)) continue;
      if ((type === 'http' || type === 'https') && k === 'url') { const u = this.url(n); if (u) urls.push(u); continue; }
      if ((type === 'http' || type === 'https') && k === 'virtualhost' && n.args[0]) { host = n.args[0]; continue; }
      if (type === 'smtp' && k === 'host') { const h: Record<string, unknown> = {}; for (const c of n.children ?? []) if (!this.network(c, h, type)) this.lost(c, 'no duet equivalent'); hosts.push(h); continue; }
      if (type === 'smtp' && k === 'helo_name' && n.args[0]) { own['helo_name'] = n.args[0]; continue; }
      if (type === 'dns' && k === 'type' && n.args[0]) { own['query_type'] = n.args[0].toUpperCase(); continue; }
      if (type === 'dns' && k === 'name' && n.args[0]) { own['name'] = n.args[0]; continue; }
      if (type === 'udp' && k === 'payload' && n.args.length) { own['payload'] = n.args.join(' '); continue; }
      if (type === 'udp' && k === 'require_reply') { own['require_reply'] = n.args.length ? n.args.join(' ') : true; continue; }
      if (type === 'udp' && (k === 'min_reply_length' || k === 'max_reply_length')) { const x = this.num(n, 0, { min: 0, max: 65535 }); if (x !== undefined) own[k] = x; continue; }
      if (type === 'exec' && k === 'misc_path') { const c = this.command(n); if (c) own['command'] = c; else return []; continue; }
      if (type === 'exec' && k === 'misc_timeout') { const x = this.num(n, 0, { min: 0.01, max: 3600, fraction: true }); if (x !== undefined) execTimeout = x; continue; }
      if (type === 'exec' && k === 'misc_dynamic') { own['dynamic'] = true; continue; }
      if (type === 'file' && k === 'track_file') { trackFile = n; continue; }
      if (type === 'file' && k === 'weight') { fileWeight = n; continue; }
      if (k === 'warmup') { this.lost(n, 'duet starts checks at once (no random warm-up delay)'); continue; }
      this.lost(n, k === 'user' ? 'duet runs every program as scripts.user (global_defs script_user)' : `no duet equivalent in ${b.keyword}`);
    }
    if (type === 'file') return this.fileCheck(b, trackFile, fileWeight);
    // keepalived's SMTP_DEFAULT_HELO; duet's default is this host's name.
    if (type === 'smtp') own['helo_name'] ??= 'smtpchecker.keepalived.org';
    if (type === 'exec' && own['command'] === undefined) { this.lost(b, 'no misc_path: nothing to run'); return []; }
    // keepalived (check_api.c and each checker): delay_loop 60 s, connect_timeout 5 s, retry 1
    // (MISC_CHECK 0, DNS_CHECK 3), delay_before_retry 1 s (HTTP_GET/SSL_GET 3 s, DNS_CHECK the
    // delay_loop); one success brings a server back.
    const interval = t.interval ?? 60;
    const timeoutWanted = type === 'exec' ? execTimeout ?? interval : t.timeout ?? 5;
    const timeout = Math.min(timeoutWanted, interval);
    if (timeout < timeoutWanted) this.note(b, `timeout ${timeoutWanted} s longer than the interval: written as ${timeout} s (duet checks do not overlap)`);
    const retry = t.retry ?? (type === 'exec' ? 0 : type === 'dns' ? 3 : 1);
    const timing: Record<string, unknown> = { interval, timeout, rise: 1, fall: retry + 1 };
    const retryDelay = t.retryDelay ?? (type === 'http' || type === 'https' ? 3 : type === 'dns' ? interval : 1);
    if (retry > 0) {
      // keepalived waits delay_before_retry after a failed try; duet's retry_delay runs from the
      // start of one try to the next and may not be shorter than a try can take.
      timing['retry_delay'] = Math.max(retryDelay, timeout);
      if (t.retryDelay !== undefined && t.retryDelay < timeout) this.note(b, `delay_before_retry ${t.retryDelay} s written as retry_delay ${timeout} s: duet counts from the start of a try, which may take the whole timeout`);
    }
    const base = { type, ...timing, ...net, ...own };
    if (type === 'http' || type === 'https') {
      // keepalived 2.2.7 ignores a url without a path, and then a checker without urls.
      if (urls.length === 0) { this.lost(b, 'no url with a path: keepalived ignores this checker, so no check is written'); return []; }
      // keepalived: every url must pass; duet: every check must pass.
      return urls.map((u) => ({ ...base, ...(host && u['host'] === undefined ? { host } : {}), ...u }));
    }
    if (type === 'smtp' && hosts.length) return hosts.map((h) => ({ ...base, ...h }));
    return [base];
  }

  /** connect_ip / connect_port / bindto: true when n was one of them. */
  private network(n: KaNode, into: Record<string, unknown>, type: string): boolean {
    switch (n.keyword) {
      case 'connect_ip': if (n.args[0]) into['connect_ip'] = bare(n.args[0]); return true;
      case 'connect_port': {
        if (type === 'ping') { this.lost(n, 'a ping has no port'); return true; }
        const x = this.num(n, 0, { min: 1, max: 65535 });
        if (x !== undefined) into['connect_port'] = x;
        return true;
      }
      case 'bindto': if (n.args[0]) into['bind_ip'] = bare(n.args[0]); return true;
      case 'bind_port': case 'bind_if': case 'fwmark': this.lost(n, 'no duet equivalent (duet checks bind an address only)'); return true;
      default: return false;
    }
  }

  private url(n: KaNode): Record<string, unknown> | undefined {
    if (!(n.children ?? []).some((c) => c.keyword === 'path' && c.args[0])) { this.lost(n, 'no path: keepalived ignores this url'); return undefined; }
    const u: Record<string, unknown> = {};
    for (const c of n.children ?? []) {
      switch (c.keyword) {
        case 'path': if (c.args[0]) u['path'] = c.args[0]; break;
        case 'digest': if (c.args[0]) u['digest'] = c.args[0]; break;
        case 'status_code': {
          const codes: (number | string)[] = [];
          for (const a of c.args) {
            if (/^\d{3}$/.test(a)) codes.push(Number(a));
            else if (/^\d{3}-\d{3}$/.test(a)) codes.push(a);
            else this.lost(c, `'${a}': expected a status code or a range 200-299`);
          }
          if (codes.length) u['status'] = codes;
          break;
        }
        case 'virtualhost': if (c.args[0]) u['host'] = c.args[0]; break;
        case 'regex': if (c.args[0]) { u['body_regex'] = c.args[0]; this.note(c, 'keepalived uses POSIX extended regular expressions, duet RE2: check the pattern means the same'); } break;
        default: this.lost(c, 'no duet equivalent in url');
      }
    }
    return u;
  }

  private fileCheck(b: KaNode, track: KaNode | undefined, weight: KaNode | undefined): Record<string, unknown>[] {
    const tf = track?.args[0] === undefined ? undefined : this.trackFiles.get(track.args[0]);
    if (!tf) { this.lost(track ?? b, `no track_file '${track?.args[0] ?? ''}'`); return []; }
    const c: Record<string, unknown> = { type: 'file' };
    let w: KaNode | undefined = weight;
    for (const n of tf.children ?? []) {
      if (n.keyword === 'file' && n.args[0]) c['file'] = n.args[0];
      else if (n.keyword === 'weight') w ??= n;
      else this.lost(n, 'no duet equivalent in track_file');
    }
    if (c['file'] === undefined) { this.lost(tf, 'no file'); return []; }
    if (w) {
      const x = this.num(w, 0, { min: -2147483647, max: 2147483647 });
      if (x !== undefined) c['weight'] = x;
      if (w.args[1] === 'reverse') c['reverse'] = true;
    }
    return [c];
  }
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function renameGarp(g: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(g).map(([k, v]) => [GARP_NAMES[k] ?? k, v]));
}

/** keepalived keyword nodes → duet sections with their sources, and what was not translated. */
export function mapKeepalived(nodes: KaNode[], o: MapOptions): Mapped {
  return new Mapper(o).run(nodes);
}

/** "file:line: keyword: why". */
export const formatReport = (r: Report): string => `${where(r.at)}: ${r.keyword}: ${r.why}`;
