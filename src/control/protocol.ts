// Control socket protocol: one JSON request per line, one JSON reply per line.
export const DEFAULT_SOCKET = '/run/duet/duet.sock';

export type Request =
  | { cmd: 'status' }
  | { cmd: 'reload' }
  /** instances: names, or 'all'. clear: withdraw the override instead. */
  | { cmd: 'failover' | 'takeover'; instances: string[] | 'all'; clear?: boolean; sticky?: boolean; timeoutMs?: number }
  | { cmd: 'maintenance'; on: boolean; sticky?: boolean; force?: boolean };

export type Reply =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string; details?: unknown } };

export function parseRequest(line: string): Request | { error: string } {
  let v: unknown;
  try { v = JSON.parse(line); } catch { return { error: 'request is not JSON' }; }
  if (typeof v !== 'object' || v === null || typeof (v as { cmd?: unknown }).cmd !== 'string') return { error: 'request needs a "cmd" string' };
  const o = v as Record<string, unknown>;
  const cmd = o['cmd'] as string;
  if (cmd === 'status' || cmd === 'reload') return { cmd };
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
    return { cmd, instances: inst as string[] | 'all', ...flags, ...(t !== undefined ? { timeoutMs: t } : {}) };
  }
  if (cmd === 'maintenance') {
    if (flags['on'] === undefined) return { error: '"on" (true or false) is required' };
    return { cmd, on: flags['on'], ...(flags['sticky'] !== undefined ? { sticky: flags['sticky'] } : {}), ...(flags['force'] !== undefined ? { force: flags['force'] } : {}) };
  }
  return { error: `unknown command '${cmd}'` };
}
