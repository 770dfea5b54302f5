// bench:checks' HAProxy reference: its generated config checks exactly the real servers of duet's
// config (same addresses, ports and kinds, every second), and its `show stat` answer is read per
// server.
import test from 'ava';
import { activeOpens, haproxyConfig, serverStates } from '../../lab/bench-checks-haproxy.js';
import { virtualServers } from '../../lab/bench-checks-config.js';

const LOAD = { tcp: 250, http: 120 };

/** "kind address:port" of every server line, with the backend's kind (httpchk or not). */
function haproxyServers(cfg: string): string[] {
  const out: string[] = [];
  let http = false;
  for (const line of cfg.split('\n')) {
    if (line.startsWith('backend ')) http = false;
    if (line.trim() === 'option httpchk GET /') http = true;
    const m = /^ {2}server s\d+ (\S+) check inter 1s$/.exec(line);
    if (m) out.push(`${http ? 'http' : 'tcp'} ${m[1]}`);
  }
  return out.sort();
}

test('the HAProxy config checks the same real servers as duet, HTTP ones with httpchk', (t) => {
  const cfg = haproxyConfig(LOAD, '/run/x.sock');
  const duet = virtualServers(LOAD).flatMap((vs) => vs.realServers.map((rs) => {
    const check = rs.checks[0]!;
    return `${check.spec.type} ${rs.address}:${rs.port}`;
  })).sort();
  t.is(duet.length, 370);
  t.deepEqual(haproxyServers(cfg), duet);
  // Backends of 100 like duet's virtual servers: 3 TCP + 2 HTTP.
  t.is(cfg.split('\n').filter((l) => l.startsWith('backend ')).length, 5);
  t.regex(cfg, /^ {2}nbthread 1$/m);
  t.regex(cfg, /^ {2}stats socket \/run\/x\.sock level user$/m);
});

test('show stat is read per server, FRONTEND and BACKEND rows left out', (t) => {
  const csv = [
    '# pxname,svname,qcur,status,weight,check_status,check_code',
    'idle,FRONTEND,,OPEN,,,',
    'tcp_0,s0,0,UP,1,L4OK,',
    'tcp_0,s1,0,DOWN,1,L4CON,',
    'tcp_0,BACKEND,0,UP,2,,',
    'http_0,s2,0,UP,1,L7OK,200',
    '',
  ].join('\n');
  t.deepEqual(serverStates(csv), ['UP L4OK', 'DOWN L4CON', 'UP L7OK']);
  t.throws(() => serverStates('# pxname,svname\nx,y\n'), { message: /no status column/ });
});

test('ActiveOpens of this namespace counts this process\'s connects', async (t) => {
  const { createServer, connect } = await import('node:net');
  const srv = createServer((s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const port = (srv.address() as { port: number }).port;
  const before = activeOpens(process.pid);
  for (let i = 0; i < 5; i++) {
    await new Promise<void>((r) => { const c = connect(port, '127.0.0.1', () => { c.destroy(); r(); }); });
  }
  // Other processes of the namespace (parallel tests) may add to it, never take away.
  t.true(activeOpens(process.pid) - before >= 5);
});
