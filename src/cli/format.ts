// Human tables for CLI output.
import type { DaemonStatus } from '../daemon/daemon.js';

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function formatStatus(s: DaemonStatus & { uptimeMs?: number; nowMs?: number }): string {
  const now = s.nowMs ?? 0;
  const rows = [['INSTANCE', 'IF', 'VRID', 'VER', 'STATE', 'PRIO', 'MASTER', 'SINCE', 'REASON', 'RX', 'TX', 'DROPPED']];
  for (const i of s.instances) {
    const dropped = Object.entries(i.counters.dropped).map(([k, v]) => `${k}:${v}`).join(',') || '0';
    rows.push([i.name, i.interface, String(i.vrid), `v${i.version}`, i.state.toUpperCase(),
      i.priority.effective === i.priority.configured ? String(i.priority.effective) : `${i.priority.effective} (cfg ${i.priority.configured})`,
      i.masterAddress ?? '-', `${((now - i.sinceMs) / 1000).toFixed(1)}s`, i.lastReason ?? '-',
      String(i.counters.advertsReceived), String(i.counters.advertsSent), dropped]);
  }
  const lines = [`node ${s.node}`, table(rows)];
  if (s.ipvs) {
    const r = s.ipvs.lastReconcile;
    const ops = r ? Object.entries(r.ops).map(([k, v]) => `${k} ${v}`).join(', ') || 'no change' : 'not yet';
    lines.push(`ipvs: ${s.ipvs.services} service${s.ipvs.services === 1 ? '' : 's'} configured; last reconcile: ${ops}` +
      (r?.failed.length ? `; ${r.failed.length} failed: ${r.failed.map((f) => `${f.what}: ${f.error}`).join('; ')}` : '') +
      (s.ipvs.error ? `; error: ${s.ipvs.error}` : ''));
  }
  return lines.join('\n');
}
