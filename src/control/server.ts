// Unix-socket control server (mode 0600): the CLI's window into a running daemon.
import { createServer, type Server } from 'node:net';
import { mkdirSync, chmodSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseRequest, type Request, type Reply } from './protocol.js';

/** `progress` sends an interim line ({"progress": ...}) before the reply, e.g. while draining. */
export type Handler = (r: Request, progress: (p: unknown) => void, closed: Promise<void>) => Promise<Reply>;

export async function listenControl(path: string, handle: Handler): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true });
  // A socket file left by a killed daemon would make listen fail with EADDRINUSE.
  rmSync(path, { force: true });
  const server = createServer((conn) => {
    let buf = '';
    const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
    conn.setEncoding('utf8');
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > 1 << 20) { conn.destroy(); return; }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const req = parseRequest(line);
        const reply: Promise<Reply> = 'error' in req
          ? Promise.resolve({ ok: false, error: { code: 'DUET_E_REQUEST', message: req.error } })
          : handle(req, (p) => { if (!conn.destroyed) conn.write(JSON.stringify({ progress: p }) + '\n'); }, closed).catch((e: unknown) => ({ ok: false, error: { code: 'DUET_E_INTERNAL', message: String(e) } }));
        void reply.then((r) => { if (!conn.destroyed) conn.write(JSON.stringify(r) + '\n'); });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  chmodSync(path, 0o600);
  return server;
}
