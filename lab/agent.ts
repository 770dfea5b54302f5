// Small helper processes the demo and the bench run inside lab namespaces:
//
//   agent.js http-name NAME PORT           HTTP server on 0.0.0.0:PORT answering "NAME\n"
//   agent.js udp-echo NAME PORT            UDP responder on 0.0.0.0:PORT answering "NAME SEQ"
//   agent.js udp-probe HOST PORT MS        a UDP probe to HOST:PORT every MS ms
//   agent.js http-probe URL MS             an HTTP GET (new connection) every MS ms
//   agent.js http-get URL                  one GET; prints the body; exit 0 on 2xx
//   agent.js burn                          burn one CPU until killed
//
// Servers and probers print "ready" once listening / sending. Probers record the arrival time of
// every reply (wall clock, ms) and answer JSON queries on stdin, one per line:
//   {"q":"last"}                     -> {"at","name","sent","replies"}
//   {"q":"gap","from":T,"to":T}      -> longest time between consecutive replies in [from, to],
//                                       counting the last reply before `from`
//   {"q":"counts","from":T,"to":T}   -> replies per responder name
import { createServer, get } from 'node:http';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';

const now = (): number => performance.timeOrigin + performance.now();
const [mode, ...args] = process.argv.slice(2);

function die(msg: string): never {
  console.error(`agent: ${msg}`);
  process.exit(2);
}

/** Reply log shared by the probers; old entries dropped after 5 minutes. */
class Replies {
  at: number[] = [];
  name: string[] = [];
  sent = 0;
  errors = 0;
  add(name: string): void {
    const t = now();
    this.at.push(t);
    this.name.push(name);
    if (this.at.length > 40_000 && t - this.at[0]! > 300_000) {
      const cut = this.at.findIndex((x) => x >= t - 300_000);
      this.at.splice(0, cut);
      this.name.splice(0, cut);
    }
  }
  private firstAtOrAfter(t: number): number {
    let lo = 0;
    let hi = this.at.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.at[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  answer(q: { q: string; from?: number; to?: number }): unknown {
    if (q.q === 'last') {
      const n = this.at.length;
      return { at: n ? this.at[n - 1] : null, name: n ? this.name[n - 1] : null, sent: this.sent, replies: n };
    }
    const from = q.from ?? 0;
    const to = q.to ?? now();
    const i0 = this.firstAtOrAfter(from);
    if (q.q === 'counts') {
      const c: Record<string, number> = {};
      for (let i = i0; i < this.at.length && this.at[i]! <= to; i++) c[this.name[i]!] = (c[this.name[i]!] ?? 0) + 1;
      return c;
    }
    if (q.q === 'gap') {
      let best = { gapMs: 0, gapStart: NaN, gapEnd: NaN, before: null as string | null, after: null as string | null };
      let replies = 0;
      for (let i = Math.max(1, i0); i < this.at.length && this.at[i]! <= to; i++) {
        replies++;
        const g = this.at[i]! - this.at[i - 1]!;
        if (g > best.gapMs) best = { gapMs: g, gapStart: this.at[i - 1]!, gapEnd: this.at[i]!, before: this.name[i - 1]!, after: this.name[i]! };
      }
      return { ...best, replies, sent: this.sent, errors: this.errors };
    }
    return { error: `unknown query ${q.q}` };
  }
}

function serveQueries(r: Replies): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let q: { q: string; from?: number; to?: number };
    try { q = JSON.parse(line) as typeof q; } catch { return; }
    process.stdout.write(`${JSON.stringify(r.answer(q))}\n`);
  });
  rl.on('close', () => process.exit(0));
}

const port = (s: string | undefined): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65535) die(`bad port ${s}`);
  return n;
};

switch (mode) {
  case 'http-name': {
    const [name, p] = args;
    if (!name) die('http-name NAME PORT');
    const srv = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
      res.end(`${name}\n`);
    });
    srv.listen(port(p), '0.0.0.0', () => console.log('ready'));
    break;
  }
  case 'udp-echo': {
    const [name, p] = args;
    if (!name) die('udp-echo NAME PORT');
    const s = createSocket('udp4');
    s.on('message', (msg, rinfo) => s.send(`${name} ${msg.toString()}`, rinfo.port, rinfo.address));
    s.bind(port(p), '0.0.0.0', () => console.log('ready'));
    break;
  }
  case 'udp-probe': {
    const [host, p, ms] = args;
    if (!host) die('udp-probe HOST PORT MS');
    const r = new Replies();
    const s = createSocket('udp4');
    // Unconnected: a responder bound to 0.0.0.0 answers from its primary address, not the VIP.
    s.on('message', (msg) => r.add(msg.toString().split(' ')[0] ?? '?'));
    s.on('error', () => { r.errors++; });
    s.bind(0, () => {
      setInterval(() => {
        r.sent++;
        s.send(String(r.sent), port(p), host, (e) => { if (e) r.errors++; });
      }, Number(ms) || 10);
      serveQueries(r);
      console.log('ready');
    });
    break;
  }
  case 'http-probe': {
    const [url, ms] = args;
    if (!url) die('http-probe URL MS');
    const r = new Replies();
    let inFlight = 0;
    setInterval(() => {
      if (inFlight >= 300) return;
      inFlight++;
      r.sent++;
      let done = false;
      const finish = (ok: boolean, body?: string): void => {
        if (done) return;
        done = true;
        inFlight--;
        if (ok) r.add(body!.trim());
        else r.errors++;
      };
      const req = get(url, { agent: false, timeout: 3000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { body += d; });
        res.on('end', () => finish(res.statusCode === 200, body));
        res.on('error', () => finish(false));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => finish(false));
    }, Number(ms) || 10);
    serveQueries(r);
    console.log('ready');
    break;
  }
  case 'http-get': {
    const [url] = args;
    if (!url) die('http-get URL');
    const req = get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => { process.stdout.write(body); process.exit(res.statusCode === 200 ? 0 : 1); });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => die(`${url}: ${e.message}`));
    break;
  }
  case 'burn': {
    console.log('ready');
    // Let the "ready" line out before the loop starts.
    setTimeout(() => { for (;;) { /* burn */ } }, 20);
    break;
  }
  default:
    die(`unknown mode ${mode ?? '(none)'}`);
}
