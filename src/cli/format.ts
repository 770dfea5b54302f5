// Human tables for CLI output.
import type { DaemonStatus, ServiceView } from '../control/views.js';

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function formatStatus(s: DaemonStatus & { uptimeMs?: number; nowMs?: number; services?: ServiceView[] }): string {
  const now = s.nowMs ?? 0;
  const rows = [['INSTANCE', 'IF', 'VRID', 'VER', 'STATE', 'PRIO', 'MASTER', 'SINCE', 'REASON', 'RX', 'TX', 'DROPPED']];
  for (const i of s.instances) {
    const dropped = Object.entries(i.counters.dropped).map(([k, v]) => `${k}:${v}`).join(',') || '0';
    rows.push([i.name, i.interface, String(i.vrid), `v${i.version}`, i.state.toUpperCase(),
      (i.priority.effective === i.priority.configured ? String(i.priority.effective) : `${i.priority.effective} (cfg ${i.priority.configured})`) +
        (s.operator?.[i.name] ? ` [${s.operator[i.name]!.mode}${s.operator[i.name]!.sticky ? ', sticky' : ''}]` : ''),
      i.masterAddress ?? '-', `${((now - i.sinceMs) / 1000).toFixed(1)}s`, i.lastReason ?? '-',
      String(i.counters.advertsReceived), String(i.counters.advertsSent), dropped]);
  }
  const maint = s.maintenance || s.bgp?.maintenance;
  const lines = [`node ${s.node}${maint ? ` (MAINTENANCE: ${s.bgp ? 'BGP VIPs withdrawn' : ''}${s.bgp && s.instances.length ? ', ' : ''}${s.instances.length ? 'will not be master' : ''})` : ''}`];
  if (s.instances.length) lines.push(table(rows));
  if (s.bgp) lines.push(formatBgp(s.bgp, now));
  const cw = s.checkWorker;
  if (cw && (!cw.answering || cw.restarts > 0)) lines.push(`check worker: ${cw.answering ? 'answering' : 'NOT ANSWERING'}; restarted ${cw.restarts} time${cw.restarts === 1 ? '' : 's'}${cw.lastRestart ? ` (last: ${cw.lastRestart})` : ''}`);
  const late = lateLine(cw?.late);
  if (late) lines.push(late);
  for (const i of s.instances) {
    const d = i.dualMaster;
    if (!d) continue;
    const who = d.via === 'arp' ? `${d.other} claims this instance's address in ARP` : `${d.other} (priority ${String(d.otherPriority)}) also advertises as master`;
    lines.push(`${i.name}: DUAL MASTER: ${who}; ${i.counters.dualMasters} episode${i.counters.dualMasters === 1 ? '' : 's'} so far`);
  }
  for (const i of s.instances) if (i.faultReasons?.length) lines.push(`${i.name}: FAULT: ${i.faultReasons.join('; ')}`);
  for (const i of s.instances) {
    const n = i.counters.advertThreadLapses ?? 0;
    if (n > 0) lines.push(`${i.name}: advert thread stopped ${n} time${n === 1 ? '' : 's'}: the main thread did not renew its lease in time (a stall longer than realtime.advert_lease_ms)`);
  }
  for (const k of s.sockets ?? []) {
    if (k.open && k.opens <= 1 && k.errors === 0) continue;
    lines.push(`socket ${k.kind}/IPv${k.family} on ${k.ifname}: ${k.open ? 'open' : 'CLOSED'}; opened ${k.opens} time${k.opens === 1 ? '' : 's'}, ${k.errors} error${k.errors === 1 ? '' : 's'}${k.lastError ? ` (last: ${k.lastError})` : ''}`);
  }
  if (s.ipvs) {
    const r = s.ipvs.lastReconcile;
    const ops = r ? Object.entries(r.ops).map(([k, v]) => `${k} ${v}`).join(', ') || 'no change' : 'not yet';
    lines.push(`ipvs: ${s.ipvs.services} service${s.ipvs.services === 1 ? '' : 's'} configured; last reconcile: ${ops}` +
      (r?.failed.length ? `; ${r.failed.length} failed: ${r.failed.map((f) => `${f.what}: ${f.error}`).join('; ')}` : '') +
      (s.ipvs.error ? `; error: ${s.ipvs.error}` : ''));
  }
  if (s.sync) {
    const k = s.sync.daemons.map((d) => `${d.state} (${d.mcastIfn}, syncid ${d.syncId}, ${d.mcastGroup}:${d.mcastPort})`).join(', ') || 'none';
    lines.push(`sync: ${s.sync.role ?? '-'} (${s.sync.follows === 'mesh' ? 'master and backup on every node' : `follows ${s.sync.follows}`}); kernel daemons: ${k}${s.sync.error ? `; error: ${s.sync.error}` : ''}`);
  }
  if (s.services?.length) lines.push(formatServices(s.services));
  for (const o of s.serverOverrides ?? []) lines.push(`operator: ${o.server} in ${o.service} ${o.kind === 'disable' ? 'disabled' : `weight pinned at ${o.weight}`}`);
  return lines.join('\n');
}


/** VIPs in bgp mode: announced or withdrawn, why, since when; the speaker's sessions. */
export function formatBgp(b: NonNullable<DaemonStatus['bgp']>, now: number): string {
  const rows = [['BGP VIP', 'STATE', 'SINCE', 'REASON', 'DETAIL']];
  for (const v of b.vips) {
    rows.push([v.address, (v.announced ? 'ANNOUNCED' : 'WITHDRAWN') + (v.routed !== v.announced ? ' (route not applied)' : ''), `${((now - v.sinceMs) / 1000).toFixed(1)}s`, v.reason, v.detail + (v.lastError ? `; error: ${v.lastError}` : '')]);
  }
  const sp = b.speaker;
  const sessions = sp.sessions === undefined ? 'unknown' : sp.sessions.map((x) => `${x.name} ${x.state}`).join(', ') || 'none';
  const read = sp.readAtMs === undefined ? 'not read yet' : `read ${((now - sp.readAtMs) / 1000).toFixed(1)}s ago`;
  return `${table(rows)}\nbgp speaker (table ${b.table}): ${sp.established} session${sp.established === 1 ? '' : 's'} established; ${sessions}; ${read}${sp.error ? `; error: ${sp.error}` : ''}`;
}

/** Replies of failover / takeover / maintenance, one line each. */
export function formatOperator(r: unknown): string {
  const one = (h: { instance: string; from: string; to: string; handoverMs: number; master: string | null }): string =>
    `${h.instance}: ${h.from} -> ${h.to} in ${h.handoverMs} ms; master now ${h.master ?? 'unknown'}`;
  if (Array.isArray(r)) return r.map(one).join('\n') || 'nothing to do';
  const sv = r as { server?: string; service?: string; override?: { kind: string; weight?: number } | null; drained?: boolean; elapsedMs?: number };
  if (sv.drained) return `${sv.server} in ${sv.service}: drained (0 active) after ${((sv.elapsedMs ?? 0) / 1000).toFixed(1)} s; it stays at weight 0 until 'duet enable'`;
  if (sv.server !== undefined) {
    const o = sv.override;
    return `${sv.server} in ${sv.service}: ${!o ? 'no override (config and checks decide)' : o.kind === 'disable' ? 'disabled' : `weight pinned at ${o.weight}`}`;
  }
  const b = r as { address?: string; announced?: boolean; reason?: string; detail?: string };
  if (b.address !== undefined && b.announced !== undefined) return `${b.address}: ${b.announced ? 'announced' : 'withdrawn'} (${b.reason ?? '?'}: ${b.detail ?? ''})`;
  const o = r as { cleared?: string[]; handedOver?: Parameters<typeof one>[0][]; instances?: string[]; bgpWithdrawn?: string[] };
  if (o.cleared) return o.cleared.length ? `override cleared: ${o.cleared.join(', ')}` : 'no override to clear';
  const lines = (o.handedOver ?? []).map(one);
  lines.push(`maintenance: ${(o.instances ?? []).join(', ') || 'no instances'}`);
  if (o.bgpWithdrawn) lines.push(`bgp: withdrawn ${o.bgpWithdrawn.join(', ') || 'none'}`);
  return lines.join('\n');
}

/** One `duet events` line: time, kind, then the fields that say what happened. */
export function formatEvent(e: unknown): string {
  const { at, type, ...rest } = e as { at?: string; type?: string } & Record<string, unknown>;
  const time = typeof at === 'string' ? at.slice(11, 23) : '';
  const fields = Object.entries(rest).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return `${time} ${String(type ?? '?').padEnd(10)} ${fields.join(' ')}`;
}

/** `duet reload`: what changed, one line per kind. */
export function formatReload(r: unknown): string {
  const o = r as { added?: string[]; removed?: string[]; replaced?: string[]; updated?: string[]; unchanged?: string[];
    virtualServers?: { added: string[]; removed: string[]; changed: string[]; unchanged: string[] }; ipvs?: Record<string, number>; ipvsError?: string;
    parseMs?: number; applyMs?: number; warnings?: string[] };
  const list = (label: string, xs: string[] | undefined): string | undefined => (xs?.length ? `${label} ${xs.join(', ')}` : undefined);
  const part = (...xs: Array<string | undefined>): string => xs.filter(Boolean).join('; ') || 'no change';
  const lines = [`instances: ${part(list('added', o.added), list('removed', o.removed), list('replaced', o.replaced), list('updated', o.updated), list('unchanged', o.unchanged))}`];
  const v = o.virtualServers;
  if (v) lines.push(`virtual servers: ${part(list('added', v.added), list('removed', v.removed), list('changed', v.changed), list('unchanged', v.unchanged))}`);
  if (o.ipvs) lines.push(`ipvs: ${Object.entries(o.ipvs).map(([k, n]) => `${k} ${n}`).join(', ') || 'no writes (the kernel already matched)'}`);
  if (o.ipvsError) lines.push(`ipvs: error: ${o.ipvsError}`);
  for (const w of o.warnings ?? []) lines.push(`warning: ${w}`);
  if (typeof o.parseMs === 'number' && typeof o.applyMs === 'number') lines.push(`took: ${o.parseMs + o.applyMs} ms (parse ${o.parseMs} ms off the main thread, apply ${o.applyMs} ms)`);
  return lines.join('\n');
}

/** Virtual services: each real server's configured, wanted and kernel weight, connections, health. */
export function formatServices(list: readonly ServiceView[]): string {
  const rows = [['SERVICE', 'SERVER', 'WEIGHT', 'WANTED', 'KERNEL', 'ACTIVE', 'INACT', 'HEALTH', 'WHY']];
  const n = (x: number | null): string => (x === null ? '-' : String(x));
  for (const v of list) {
    for (const r of v.servers) {
      if (r.sorry && r.wanted === null && r.kernel === null) continue;
      rows.push([v.name + (v.quorumLost ? ' (QUORUM LOST)' : ''), r.server + (r.sorry ? ' (sorry)' : ''), String(r.configured), r.wanted === null ? 'out' : String(r.wanted), n(r.kernel), n(r.active), n(r.inactive), r.health.toUpperCase(), r.why]);
    }
  }
  return table(rows);
}

/** `duet restart`: what the next run carries on. */
export function formatRestart(r: unknown): string {
  const { kept, exitCode } = r as { kept: string[]; exitCode: number };
  const what = kept.length
    ? `master of ${kept.join(', ')} kept (VIPs, IPVS table and sync daemon stay); the next run resumes if it starts in time`
    : 'no instance was master; the next run starts as backup';
  return `duet exited for a restart (status ${exitCode}): ${what}`;
}

/** Past capacity, checks run late: say how late, and how many timeouts were not counted for it. */
export function lateLine(l: { lateRuns: number; discounted: number; behindMs: number; queued?: number } | undefined): string | undefined {
  if (!l || (l.lateRuns === 0 && l.discounted === 0)) return undefined;
  const queued = l.queued ?? 0;
  const now = l.behindMs >= 50 ? `RUNNING LATE: up to ${Math.round(l.behindMs)} ms behind schedule in the last second` : 'on schedule now';
  const waiting = queued > 0 ? `, ${queued} waiting to start` : '';
  return `checks: ${now}${waiting}; ${l.lateRuns} run${l.lateRuns === 1 ? '' : 's'} started late, ${l.discounted} timeout${l.discounted === 1 ? '' : 's'} not counted (this node was too busy to see the answer)`;
}
