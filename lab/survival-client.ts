// The client of the connection-survival lab (lab/survival.ts): run by node inside the VM's
// client namespace. It holds many long-lived TCP sessions to VIP:PORT through the director pair;
// each session sends "<session> <seq>\n" every INTERVAL ms and checks that the line-echo server
// returns exactly those lines, in order. It records every reply's time, so a report can say which
// sessions survived a window (no reset, no lost / garbled / out-of-order echo, still exchanging at
// the end) and the longest stall (gap between two replies) each saw.
//
//   node build/lab/survival-client.js --vip 192.0.2.100 --port 7 [--interval 200]
//        [--max-seconds 600] [--alive-ms 2000] [--per-session] < CONTROL
// --per-session: each batch of a report also lists its sessions as [local port, survived 1/0,
// longest stall ms], so a lab can split them by the path each took (lab/scale.ts).
//
// Commands, one per line on stdin (the lab writes them into a FIFO):
//   open BATCH N     open N sessions named BATCH-0 .. BATCH-(N-1), a few ms apart; prints
//                    {"ev":"opened",...} once each has either had its first echo or failed
//   mark NAME        start a measurement window now; prints {"ev":"mark",...}
//   report NAME [STALL]  prints {"ev":"report",...}: per batch, the sessions healthy at mark NAME
//                    and which of them survived; stalls (reply gaps) that ended after mark STALL
//                    (default NAME)
//   quit             close everything and exit
// Every output line is one JSON object. The process exits by itself after --max-seconds.
import net from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    vip: { type: 'string', default: '192.0.2.100' },
    port: { type: 'string', default: '7' },
    interval: { type: 'string', default: '200' },
    'max-seconds': { type: 'string', default: '600' },
    /** A session counts as still exchanging if it had a reply this recently. */
    'alive-ms': { type: 'string', default: '2000' },
    /** Gaps longer than this are listed per session. */
    'gap-ms': { type: 'string', default: '1000' },
    'per-session': { type: 'boolean', default: false },
  },
});
const VIP = a.vip!;
const PORT = Number(a.port);
const INTERVAL = Number(a.interval);
const ALIVE_MS = Number(a['alive-ms']);
const GAP_MS = Number(a['gap-ms']);

const out = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...o })}\n`);
};

interface Gap {
  /** The reply that ended the gap (or the report time, for a gap still open). */
  at: number;
  ms: number;
}

interface Session {
  id: string;
  batch: string;
  sock: net.Socket;
  timer: NodeJS.Timeout | undefined;
  openedAt: number;
  connectedAt: number | undefined;
  seqSent: number;
  seqGot: number;
  replies: number;
  firstReplyAt: number | undefined;
  lastReplyAt: number | undefined;
  /** Gaps longer than GAP_MS. */
  gaps: Gap[];
  /** Every gap, as (end time, length), so any window's maximum can be computed. Bounded. */
  allGaps: Array<[number, number]>;
  buf: string;
  failed: { at: number; why: string } | undefined;
  /** The local port: the session's identity in the directors' connection tables. */
  localPort: number | undefined;
}

const sessions: Session[] = [];
const marks = new Map<string, number>();

function fail(s: Session, why: string): void {
  if (s.failed) return;
  s.failed = { at: Date.now(), why };
  if (s.timer) clearInterval(s.timer);
  s.timer = undefined;
  s.sock.destroy();
}

function onLine(s: Session, line: string): void {
  const want = `${s.id} ${s.seqGot}`;
  if (line !== want) {
    fail(s, `echo mismatch: got ${JSON.stringify(line.slice(0, 60))}, expected ${JSON.stringify(want)}`);
    return;
  }
  s.seqGot++;
  const now = Date.now();
  if (s.lastReplyAt !== undefined) {
    const gap = now - s.lastReplyAt;
    if (s.allGaps.length >= 20000) s.allGaps.splice(0, 10000);
    s.allGaps.push([now, gap]);
    if (gap > GAP_MS) s.gaps.push({ at: now, ms: gap });
  } else s.firstReplyAt = now;
  s.lastReplyAt = now;
  s.replies++;
}

function openSession(batch: string, i: number): Session {
  const sock = net.connect({ host: VIP, port: PORT });
  const s: Session = {
    id: `${batch}-${i}`, batch, sock, timer: undefined, openedAt: Date.now(), connectedAt: undefined, seqSent: 0, seqGot: 0,
    replies: 0, firstReplyAt: undefined, lastReplyAt: undefined, gaps: [], allGaps: [], buf: '', failed: undefined, localPort: undefined,
  };
  sock.setNoDelay(true);
  sock.setEncoding('utf8');
  sock.on('connect', () => {
    s.connectedAt = Date.now();
    s.localPort = sock.localPort;
    const send = (): void => {
      if (s.failed) return;
      // Never run far ahead of the echo (a dead path would only fill buffers): the TCP send
      // buffer keeps what is unacknowledged, and the kernel retransmits it.
      if (s.seqSent - s.seqGot > 200) return;
      sock.write(`${s.id} ${s.seqSent}\n`);
      s.seqSent++;
    };
    send();
    s.timer = setInterval(send, INTERVAL);
  });
  sock.on('data', (d: string) => {
    if (s.failed) return;
    s.buf += d;
    let nl: number;
    while ((nl = s.buf.indexOf('\n')) >= 0 && !s.failed) {
      const line = s.buf.slice(0, nl);
      s.buf = s.buf.slice(nl + 1);
      onLine(s, line);
    }
  });
  sock.on('error', (e: NodeJS.ErrnoException) => fail(s, e.code ?? e.message));
  sock.on('close', () => fail(s, 'closed'));
  sock.on('end', () => fail(s, 'end (FIN from the server side)'));
  return s;
}

async function openBatch(batch: string, n: number): Promise<void> {
  const t0 = Date.now();
  const mine: Session[] = [];
  for (let i = 0; i < n; i++) {
    const s = openSession(batch, i);
    sessions.push(s);
    mine.push(s);
    // A few ms apart: no SYN burst, and the echo timers of the batch are spread over the interval.
    await new Promise((r) => setTimeout(r, Math.max(2, Math.floor(INTERVAL / n))));
  }
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && mine.some((s) => !s.failed && s.firstReplyAt === undefined)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const failed = mine.filter((s) => s.failed);
  out({
    ev: 'opened', batch, n, ok: mine.filter((s) => !s.failed && s.firstReplyAt !== undefined).length, failed: failed.length,
    ms: Date.now() - t0, why: [...new Set(failed.map((s) => s.failed!.why))].slice(0, 5),
  });
}

/** Per batch, over the window since `since`: who survived, and the longest stall. */
function report(name: string, since: number, stallSince = since): void {
  const now = Date.now();
  const batches = [...new Set(sessions.map((s) => s.batch))];
  const result = batches.map((b) => {
    const all = sessions.filter((s) => s.batch === b);
    // The sessions this window is about: healthy when it started.
    const atStart = all.filter((s) => (!s.failed || s.failed.at >= since) && s.firstReplyAt !== undefined && s.firstReplyAt <= since);
    const survived = atStart.filter((s) => !s.failed && s.lastReplyAt !== undefined && now - s.lastReplyAt <= ALIVE_MS);
    const lost = atStart.filter((s) => !survived.includes(s));
    const stallOf = (s: Session): number => {
      let m = 0;
      for (const [at, ms] of s.allGaps) if (at > stallSince && ms > m) m = ms;
      // A gap still open at the report time counts too.
      if (s.lastReplyAt !== undefined) m = Math.max(m, now - Math.max(s.lastReplyAt, stallSince));
      return m;
    };
    const stalls = survived.map(stallOf).sort((x, y) => x - y);
    // When the path came back: the earliest reply after the window's stall mark, over its sessions.
    const firsts = atStart.map((s) => s.allGaps.find(([at]) => at > stallSince)?.[0]).filter((x): x is number => x !== undefined);
    const pct = (p: number): number => stalls.length ? stalls[Math.min(stalls.length - 1, Math.floor(p * stalls.length))]! : 0;
    const reasons: Record<string, number> = {};
    for (const s of lost) {
      const why = s.failed ? s.failed.why.replace(/: got .*/, '') : `no reply for ${now - (s.lastReplyAt ?? since)} ms`;
      reasons[why] = (reasons[why] ?? 0) + 1;
    }
    return {
      batch: b,
      total: all.length,
      atStart: atStart.length,
      survived: survived.length,
      maxStallMs: stalls.length ? stalls[stalls.length - 1]! : 0,
      p50StallMs: pct(0.5),
      firstReplyMs: firsts.length ? Math.min(...firsts) - stallSince : undefined,
      reasons,
      lost: lost.slice(0, 10).map((s) => ({ id: s.id, port: s.localPort, failed: s.failed, lastReplyAt: s.lastReplyAt, seqSent: s.seqSent, seqGot: s.seqGot })),
      // Per session: the gaps over GAP_MS in this window ("id": [[end time, ms], ...]).
      gaps: Object.fromEntries(atStart.map((s) => [s.id, s.gaps.filter((g) => g.at > stallSince).map((g) => [g.at, g.ms])]).filter(([, g]) => (g as unknown[]).length > 0)),
      ...(a['per-session'] ? { sessions: atStart.map((s) => [s.localPort ?? 0, survived.includes(s) ? 1 : 0, survived.includes(s) ? stallOf(s) : 0]) } : {}),
    };
  });
  out({ ev: 'report', name, since, stallSince, windowMs: now - since, batches: result });
}

function quit(code = 0): never {
  for (const s of sessions) {
    if (s.timer) clearInterval(s.timer);
    s.sock.destroy();
  }
  process.exit(code);
}

setTimeout(() => {
  out({ ev: 'timeout' });
  quit(2);
}, Number(a['max-seconds']) * 1000).unref();

out({ ev: 'start', vip: VIP, port: PORT, interval: INTERVAL });
const rl = createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  const [cmd, x, y] = line.trim().split(/\s+/);
  queue = queue.then(async () => {
    switch (cmd) {
      case 'open':
        // Not awaited: marks and reports must not wait for a batch to open.
        void openBatch(x ?? 'a', Number(y ?? 100));
        break;
      case 'mark': {
        const t = Date.now();
        marks.set(x ?? '', t);
        out({ ev: 'mark', name: x, at: t, alive: sessions.filter((s) => !s.failed).length });
        break;
      }
      case 'report': {
        const since = marks.get(x ?? '') ?? 0;
        report(x ?? '', since, y === undefined ? since : (marks.get(y) ?? since));
        break;
      }
      case 'quit':
        quit();
        break;
      case undefined:
      case '':
        break;
      default:
        out({ ev: 'error', message: `unknown command ${JSON.stringify(line)}` });
    }
  });
});
rl.on('close', () => {
  // The control FIFO closed: the lab is done with us.
  void queue.then(() => quit());
});
