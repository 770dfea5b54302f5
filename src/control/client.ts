// Send one request to the daemon's control socket and wait for its reply.
import { createConnection } from 'node:net';
import type { Request, Reply } from './protocol.js';

/** One request; interim {"progress": ...} lines go to onProgress until the reply line comes. */
export function request(path: string, req: Request, timeoutMs = 5000, onProgress?: (p: unknown) => void): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no reply from ${path} within ${timeoutMs} ms`)); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let v: unknown;
        try { v = JSON.parse(line); } catch (e) { clearTimeout(timer); sock.destroy(); reject(e); return; }
        if (v !== null && typeof v === 'object' && 'progress' in v) { onProgress?.((v as { progress: unknown }).progress); continue; }
        clearTimeout(timer);
        sock.end();
        resolve(v as Reply);
        return;
      }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}
