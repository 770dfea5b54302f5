// Unix-socket control server (mode 0600): the CLI's window into a running daemon.
import { createServer, type Server } from 'node:net';
import { mkdirSync, chmodSync, chownSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorReply, parseRequest, type Request, type Reply } from './protocol.js';

/** `progress` sends an interim line ({"progress": ...}) before the reply, e.g. while draining. */
export type Handler = (r: Request, progress: (p: unknown) => void, closed: Promise<void>) => Promise<Reply>;

/** mode 0600 (root only) by default; a read-only status socket is 0660 with the status group. */
/** A finished request (`cmd` or 'invalid'), how long its reply took, and whether it was ok. */
export type RequestObserver = (cmd: string, ms: number, ok: boolean) => void;

export async function listenControl(path: string, handle: Handler, o: { mode?: number; gid?: number; onReply?: RequestObserver } = {}): Promise<Server> {
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
        const t0 = performance.now();
        const reply: Promise<Reply> = 'error' in req
          ? Promise.resolve(errorReply('DUET_E_REQUEST', req.error))
          : handle(req, (p) => { if (!conn.destroyed) conn.write(JSON.stringify({ progress: p }) + '\n'); }, closed).catch((e: unknown) => errorReply('DUET_E_INTERNAL', String(e)));
        void reply.then((r) => {
          o.onReply?.('error' in req ? 'invalid' : req.cmd, performance.now() - t0, r.ok);
          if (!conn.destroyed) conn.write(JSON.stringify(r) + '\n');
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  if (o.gid !== undefined) chownSync(path, 0, o.gid);
  chmodSync(path, o.mode ?? 0o600);
  return server;
}

/** A group's id from /etc/group (Node has no getgrnam), or undefined. */
export function groupId(name: string, groupFile = '/etc/group'): number | undefined {
  for (const line of readFileSync(groupFile, 'utf8').split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}
