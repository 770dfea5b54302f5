// Control socket protocol: one JSON request per line, one JSON reply per line.
import type { ErrorCode } from '../core/errors.js';
export const DEFAULT_SOCKET = '/run/duet/duet.sock';

export type Request =
  | { cmd: 'status' }
  | { cmd: 'reload' }
  /** A stream: one {"progress": event} line per event until the client hangs up. */
  | { cmd: 'events' }
  /** instances: names, or 'all'. clear: withdraw the override instead. */
  | { cmd: 'failover' | 'takeover'; instances: string[] | 'all'; clear?: boolean; sticky?: boolean; timeoutMs?: number }
  | { cmd: 'maintenance'; on: boolean; sticky?: boolean; force?: boolean }
  /** Exit for a restart without a transition (masters keep VIPs; the next run resumes). */
  | { cmd: 'restart'; supervised?: boolean }
  /** The kernel's IPVS table (what) or connection entries, as `duet ipvs list|conns` print them. */
  | { cmd: 'ipvs'; what: 'list' | 'conns' }
  /** Real-server overrides. service: name or key; server: address or address:port. */
  | { cmd: 'server'; action: ServerAction; service: string; server: string; weight?: number; timeoutMs?: number }
  /** A VIP in bgp mode: withdraw it, or announce it again (health still decides). */
  | { cmd: 'withdraw' | 'announce'; vip: string; sticky?: boolean };

export type ServerAction = 'weight' | 'enable' | 'disable' | 'drain';

/** code: from the registry in core/errors.ts (a reply from another version may carry one this CLI does not know). */
export type Reply =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: ErrorCode | (string & {}); message: string; details?: unknown } };

/** A refusal or failure reply; the code is checked against the registry. */
export function errorReply(code: ErrorCode, message: string, details?: unknown): Reply {
  return { ok: false, error: { code, message, ...(details !== undefined ? { details } : {}) } };
}

export function parseRequest(line: string): Request | { error: string } {
  let v: unknown;
  try { v = JSON.parse(line); } catch { return { error: 'request is not JSON' }; }
  if (typeof v !== 'object' || v === null || typeof (v as { cmd?: unknown }).cmd !== 'string') return { error: 'request needs a "cmd" string' };
  const o = v as Record<string, unknown>;
  const cmd = o['cmd'] as string;
  if (cmd === 'status' || cmd === 'reload' || cmd === 'events') return { cmd };
  const flag = (k: string): boolean | undefined | { error: string } =>
    o[k] === undefined || typeof o[k] === 'boolean' ? (o[k] as boolean | undefined) : { error: `"${k}" must be true or false` };
  const flags: Record<string, boolean> = {};
  for (const k of ['clear', 'sticky', 'force', 'on']) {
    const f = flag(k);
    if (typeof f === 'object') return f;
    if (f !== undefined) flags[k] = f;
  }
  if (cmd === 'failover' || cmd === 'takeover') {
    const inst = o['instances'];
    const ok = inst === 'all' || (Array.isArray(inst) && inst.length > 0 && inst.every((x) => typeof x === 'string'));
    if (!ok) return { error: '"instances" must be "all" or a list of instance names' };
    const t = o['timeoutMs'];
    if (t !== undefined && (typeof t !== 'number' || !(t > 0 && t <= 600_000))) return { error: '"timeoutMs" must be 1..600000' };
    return {
      cmd, instances: inst as string[] | 'all',
      ...(flags['clear'] !== undefined ? { clear: flags['clear'] } : {}), ...(flags['sticky'] !== undefined ? { sticky: flags['sticky'] } : {}),
      ...(t !== undefined ? { timeoutMs: t } : {}),
    };
  }
  if (cmd === 'server') {
    const action = o['action'];
    if (action !== 'weight' && action !== 'enable' && action !== 'disable' && action !== 'drain') return { error: '"action" must be weight, enable, disable or drain' };
    const service = o['service'], server = o['server'], weight = o['weight'], t = o['timeoutMs'];
    if (typeof service !== 'string' || service === '') return { error: '"service" (a name or key) is required' };
    if (typeof server !== 'string' || server === '') return { error: '"server" (address or address:port) is required' };
    if (action === 'weight' && weight !== undefined && !(Number.isInteger(weight) && (weight as number) >= 0 && (weight as number) <= 65535)) return { error: '"weight" must be 0..65535' };
    if (t !== undefined && (typeof t !== 'number' || !(t > 0 && t <= 86_400_000))) return { error: '"timeoutMs" must be 1..86400000' };
    // A weight only goes with action weight (validated above); with another action it is dropped.
    return { cmd, action, service, server, ...(action === 'weight' && typeof weight === 'number' ? { weight } : {}), ...(typeof t === 'number' ? { timeoutMs: t } : {}) };
  }
  if (cmd === 'ipvs') {
    const what = o['what'];
    if (what !== 'list' && what !== 'conns') return { error: '"what" must be list or conns' };
    return { cmd, what };
  }
  if (cmd === 'withdraw' || cmd === 'announce') {
    const vip = o['vip'];
    if (typeof vip !== 'string' || vip === '' || vip.length > 64) return { error: '"vip" (an address) is required' };
    return { cmd, vip, ...(flags['sticky'] !== undefined ? { sticky: flags['sticky'] } : {}) };
  }
  if (cmd === 'restart') {
    const f = flag('supervised');
    if (typeof f === 'object') return f;
    return { cmd, ...(f !== undefined ? { supervised: f } : {}) };
  }
  if (cmd === 'maintenance') {
    if (flags['on'] === undefined) return { error: '"on" (true or false) is required' };
    return { cmd, on: flags['on'], ...(flags['sticky'] !== undefined ? { sticky: flags['sticky'] } : {}), ...(flags['force'] !== undefined ? { force: flags['force'] } : {}) };
  }
  return { error: `unknown command ${quote(cmd)}` };
}

/** A client's string in an error message: anything but printable ASCII escaped, cut at about 40 characters. */
function quote(s: string): string {
  let out = '';
  let i = 0;
  for (; i < s.length && out.length < 40; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x20 && c <= 0x7e ? s[i] : `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `'${out}${i < s.length ? '...' : ''}'`;
}
