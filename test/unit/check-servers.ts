// Real servers on loopback (ephemeral ports) for the checker tests, closed in t.teardown.
import type { ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CheckTarget } from '../../src/check/types.js';

export interface Running<S extends Server = Server> {
  readonly server: S;
  readonly port: number;
  /** Remote addresses of the connections accepted so far. */
  readonly peers: string[];
  /** Errors seen on accepted sockets (ECONNRESET when a checker closes with a RST). */
  readonly socketErrors: string[];
}

/** Listen on host:0 and close the server and every connection it accepted at teardown. */
export async function serve<S extends Server>(t: ExecutionContext, server: S, host = '127.0.0.1'): Promise<Running<S>> {
  const sockets = new Set<Socket>();
  const peers: string[] = [];
  const socketErrors: string[] = [];
  // 'connection' for plain servers; TLS servers report the raw socket the same way.
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    peers.push(s.remoteAddress ?? '?');
    s.on('error', (e: NodeJS.ErrnoException) => { socketErrors.push(e.code ?? e.message); });
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => { server.off('error', reject); resolve(); });
  });
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return { server, port: (server.address() as AddressInfo).port, peers, socketErrors };
}

export function target(port: number, address = '127.0.0.1', bindAddress?: string): CheckTarget {
  const family = address.includes(':') ? 6 : 4;
  return bindAddress === undefined ? { address, family, port } : { address, family, port, bindAddress };
}

/** A port nothing listens on: bound, then closed (ephemeral, so nobody else is handed it soon). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, host, resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Accepts connections and never says anything. */
export function tcpServer(t: ExecutionContext, host = '127.0.0.1'): Promise<Running> {
  return serve(t, createNetServer(), host);
}

/** Says `answer` (then closes, when `close`), or with a function: answers what it was sent. */
export function lineServer(t: ExecutionContext, answer: string | ((got: string) => string), close = true): Promise<Running> {
  const server = createNetServer((s) => {
    if (typeof answer === 'string') {
      if (close) s.end(answer); else s.write(answer);
      return;
    }
    s.setEncoding('latin1');
    let got = '';
    s.on('data', (d: string) => {
      got += d;
      if (got.includes('\n')) s.end(answer(got));
    });
  });
  return serve(t, server);
}

export interface UdpRunning {
  readonly socket: UdpSocket;
  readonly port: number;
  /** What each datagram came from and said. */
  readonly got: { from: string; data: Buffer }[];
}

/** A UDP server on host:0: answers each datagram with reply(data), or says nothing when it returns undefined. */
export async function udpServer(t: ExecutionContext, reply: (data: Buffer) => Buffer | string | undefined, host = '127.0.0.1'): Promise<UdpRunning> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const got: { from: string; data: Buffer }[] = [];
  socket.on('message', (data: Buffer, from: RemoteInfo) => {
    got.push({ from: from.address, data });
    const r = reply(data);
    if (r !== undefined) socket.send(r, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { socket, port: socket.address().port, got };
}

/** A UDP port nothing listens on: bound, then closed. */
export async function closedUdpPort(host = '127.0.0.1'): Promise<number> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => s.bind(0, host, resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * A small SMTP server: greets with `greeting` (one or more lines, each CRLF-terminated), answers
 * HELO/EHLO with `helo` and QUIT with 221 then closes; records the commands it was sent.
 */
export function smtpServer(t: ExecutionContext, o: { greeting?: string; helo?: string; quit?: 'answer' | 'close' } = {}): Promise<Running & { commands: string[] }> {
  const commands: string[] = [];
  const server = createNetServer((s) => {
    s.setEncoding('latin1');
    if (o.greeting !== '') s.write(o.greeting ?? '220 mail.test ESMTP ready\r\n');
    let buf = '';
    s.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        commands.push(line);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'HELO' || verb === 'EHLO') s.write(o.helo ?? '250 mail.test\r\n');
        else if (verb === 'QUIT') {
          if (o.quit === 'close') s.end();
          else s.end('221 bye\r\n');
        } else s.write('500 what\r\n');
      }
    });
  });
  return serve(t, server).then((r) => Object.assign(r, { commands }));
}

export const BIG_BODY_BYTES = 2 * 1024 * 1024;
export const HELLO = 'hello duet\n';

/** Routes: /ok, /500, /slow (never answers), /reset (RST), /big (2 MiB), /host (echoes Host). */
export function routes(req: IncomingMessage, res: ServerResponse): void {
  switch (req.url) {
    case '/ok': res.end(HELLO); return;
    case '/500': res.statusCode = 500; res.end('broken\n'); return;
    case '/slow': return;
    case '/reset': req.socket.resetAndDestroy(); return;
    case '/big': res.end(Buffer.alloc(BIG_BODY_BYTES, 'x')); return;
    case '/host': res.end(`${req.method} ${req.headers.host ?? ''} ${req.headers.connection ?? ''}`); return;
    case '/sni': res.end(String((req.socket as { servername?: unknown }).servername)); return;
    case '/half': res.writeHead(200, { 'Content-Length': '100' }); res.write('partial'); setTimeout(() => req.socket.destroy(), 20); return;
    default: res.statusCode = 404; res.end();
  }
}

export function httpServer(t: ExecutionContext, host = '127.0.0.1'): Promise<Running> {
  return serve(t, createHttpServer(routes), host);
}

export interface Cert { readonly key: Buffer; readonly cert: Buffer }

/** A self-signed EC certificate for rs.test and 127.0.0.2 (not 127.0.0.1), made with the openssl CLI. */
export async function selfSignedCert(): Promise<Cert> {
  const dir = await mkdtemp(join(tmpdir(), 'duet-check-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-nodes', '-subj', '/CN=rs.test', '-addext', 'subjectAltName=DNS:rs.test,IP:127.0.0.2', '-days', '1',
      '-keyout', key, '-out', cert]);
    return { key: await readFile(key), cert: await readFile(cert) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function httpsServer(t: ExecutionContext, c: Cert): Promise<Running> {
  return serve(t, createHttpsServer({ key: c.key, cert: c.cert }, routes));
}

/**
 * Handle counts by kind (TCPSocketWrap, Timeout, ProcessWrap, PipeWrap...). In-flight requests
 * (CloseReq, WriteWrap, FSReqCallback...) are transient and come and go with ava's own IPC.
 */
export function handles(): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of process.getActiveResourcesInfo()) {
    if (/Req|WriteWrap|ShutdownWrap/.test(k)) continue;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

/** Waits (bounded) until the handle counts are back to `before`; returns the last counts. */
export async function settledTo(before: Map<string, number>, ms = 1000): Promise<Map<string, number>> {
  const until = Date.now() + ms;
  for (;;) {
    const now = handles();
    if (same(now, before) || Date.now() > until) return now;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function same(a: Map<string, number>, b: Map<string, number>): boolean {
  const keys = new Set([...a.keys(), ...b.keys()]);
  for (const k of keys) if ((a.get(k) ?? 0) !== (b.get(k) ?? 0)) return false;
  return true;
}

/**
 * A port on 127.0.0.1 where a connect is never answered: a stopped process's listener (backlog 1)
 * whose accept queue is already full, so the kernel drops the next SYN. (A check run past its
 * deadline by blocking this thread is no longer a timeout: the engine gives that time back.)
 */
export async function unansweredPort(): Promise<{ port: number; close(): void }> {
  const child = spawn(process.execPath, ['-e', "require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () { console.log(this.address().port); })"], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
  });
  child.kill('SIGSTOP');
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = connect({ port, host: '127.0.0.1' });
    s.on('error', () => undefined);
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 50));
  child.stdout!.destroy();
  return { port, close: () => { for (const s of fillers) s.destroy(); child.kill('SIGKILL'); } };
}
