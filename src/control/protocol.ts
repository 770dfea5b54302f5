// Control socket protocol: one JSON request per line, one JSON reply per line.
export const DEFAULT_SOCKET = '/run/duet/duet.sock';

export type Request =
  | { cmd: 'status' }
  | { cmd: 'reload' };

export type Reply =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string; details?: unknown } };

export function parseRequest(line: string): Request | { error: string } {
  let v: unknown;
  try { v = JSON.parse(line); } catch { return { error: 'request is not JSON' }; }
  if (typeof v !== 'object' || v === null || typeof (v as { cmd?: unknown }).cmd !== 'string') return { error: 'request needs a "cmd" string' };
  const cmd = (v as { cmd: string }).cmd;
  if (cmd === 'status' || cmd === 'reload') return { cmd };
  return { error: `unknown command '${cmd}'` };
}
