// Send one request to the daemon's control socket and wait for its reply.
import { createConnection } from 'node:net';
import type { Request, Reply } from './protocol.js';

/**
 * One request; interim {"progress": ...} lines go to onProgress until the reply line comes.
 * Rejects, never hangs: on the deadline, on a socket error, and when the daemon closes the
 * connection without a reply (it stopped, or dropped the request).
 */
export function request(path: string, req: Request, timeoutMs = 5000, onProgress?: (p: unknown) => void): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => settle(() => { sock.destroy(); reject(new Error(`no reply from ${path} within ${timeoutMs} ms`)); }), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while (!settled && (nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let v: unknown;
        try { v = JSON.parse(line); } catch (e) { settle(() => { sock.destroy(); reject(e as Error); }); return; }
        if (v !== null && typeof v === 'object' && 'progress' in v) { onProgress?.((v as { progress: unknown }).progress); continue; }
        settle(() => { sock.end(); resolve(v as Reply); });
      }
    });
    sock.on('error', (e) => settle(() => { sock.destroy(); reject(e); }));
    sock.on('close', () => settle(() => reject(new Error(`${path}: the daemon closed the connection without a reply`))));
  });
}
