// Target servers for bench:checks, run as their own process (in the bench's namespace) so their
// CPU is not counted as duet's:
//
//   node bench-checks-servers.js TCP_PORT HTTP_PORT
//
// TCP_PORT: accepts and waits for the client to go away (duet's TCP check resets right after
// connecting; a server that reset first could beat the client to its own connect callback and
// fail the check with ECONNRESET, which no real service does). Duet's and HAProxy's TCP checks
// hold back the handshake's last ACK and reset after the SYN-ACK, so this listener accepts only
// the checks whose ACK got out (a loop slower than the delayed-ACK timer): tcpAccepted is not a
// count of TCP checks.
// HTTP_PORT: a minimal HTTP/1.1 responder on raw sockets: one fixed 200 per connection, then
// close. Deliberately not node:http: the point is duet's client side, and on a 2-core machine a
// heavier server would take CPU from the process being measured.
// Prints "ready" once both listen; each line on stdin gets one JSON line of counters back.
import { createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

const RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n';
const stats = { tcpAccepted: 0, httpServed: 0, errors: 0 };

function ignoreError(): void { stats.errors++; }

function onTcp(s: Socket): void {
  stats.tcpAccepted++;
  // The client's RST arrives as ECONNRESET: expected, not counted.
  s.on('error', noop);
  // A client that never resets (it timed out and destroyed with a FIN) must not pin the socket.
  s.setTimeout(5000, () => s.resetAndDestroy());
}

function noop(): void { /* expected */ }

function onHttp(s: Socket): void {
  s.on('error', ignoreError);
  let seen = '';
  s.on('data', (d: Buffer) => {
    seen += d.toString('latin1');
    if (!seen.includes('\r\n\r\n')) return;
    stats.httpServed++;
    s.end(RESPONSE);
  });
}

function listen(port: number, onConn: (s: Socket) => void): Promise<void> {
  // Backlog well above one second's worth of connections arriving in a burst.
  const srv = createServer(onConn);
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ port, host: '0.0.0.0', backlog: 4096 }, resolve);
  });
}

async function main(): Promise<void> {
  const [tcpPort, httpPort] = process.argv.slice(2).map(Number);
  if (!tcpPort || !httpPort) throw new Error('usage: bench-checks-servers.js TCP_PORT HTTP_PORT');
  await listen(tcpPort, onTcp);
  await listen(httpPort, onHttp);
  createInterface({ input: process.stdin }).on('line', () => {
    const c = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ ...stats, cpuMs: (c.user + c.system) / 1000 })}\n`);
  }).on('close', () => process.exit(0));
  console.log('ready');
}

main().catch((e: unknown) => { console.error(`bench-checks-servers: ${(e as Error).message}`); process.exit(2); });
