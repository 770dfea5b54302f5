// The check worker thread: the engine with the real clock and the real checkers. Events are
// batched per turn of this thread's loop, so thousands of results cost the daemon's thread one
// message per batch, not one per check.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { setThreadRealtime, type ThreadRealtime } from '../core/realtime.js';
import { realClock } from '../core/clock.js';
import { CheckEngine, statusPage, type CheckEvent, type ServiceStatus } from './engine.js';
import { runCheck } from './checkers/index.js';
import { AdmissionGate, DEFAULT_PER_TURN, inFlightFromFdLimit, type AdmissionLimits } from './admission.js';
import type { FromWorker, ToWorker } from './host.js';
import { checkFamiliesText } from './prom-text.js';

const port = parentPort;
if (!port) throw new Error('check/worker.js runs only as a worker thread');

// This thread's own scheduling policy (realtime.check_priority), asked for by this thread: Linux
// applies it per thread. The daemon logs the outcome.
const data = workerData as { realtime?: ThreadRealtime; admission?: Partial<AdmissionLimits> } | undefined;
const rt = data?.realtime;
if (rt) port.postMessage({ type: 'realtime', outcome: setThreadRealtime(rt) } satisfies FromWorker);

let pending: CheckEvent[] = [];
let scheduled = false;
/** The status being read a page at a time (host.ts, pagedStatus). */
let snap: { id: number; list: ServiceStatus[] } | undefined;
let snapSeq = 0;

function flush(): void {
  scheduled = false;
  if (pending.length === 0) return;
  const events = pending;
  pending = [];
  port!.postMessage({ type: 'events', events } satisfies FromWorker);
}

/** The soft RLIMIT_NOFILE (node raises it to the hard limit at start), from /proc/self/limits. */
function softFdLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.trim().split(/\s{2,}/)[1];
  const n = Number(soft);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`check worker: cannot read the open-file limit from /proc/self/limits (got ${JSON.stringify(line)})`);
  return n;
}

// Past capacity, checks wait for admission (a bounded number start per turn and run at once)
// instead of all starting in the turn they fall due.
const gate = new AdmissionGate({
  clock: realClock,
  defer: (fn) => { setImmediate(fn); },
  run: runCheck,
  perTurn: data?.admission?.perTurn ?? DEFAULT_PER_TURN,
  maxInFlight: data?.admission?.maxInFlight ?? inFlightFromFdLimit(softFdLimit()),
});

const engine = new CheckEngine({
  clock: realClock,
  run: gate.run,
  onEvent: (e) => {
    pending.push(e);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  },
});

const reply = (id: number, value: unknown): void => port.postMessage({ type: 'reply', id, value } satisfies FromWorker);

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'configure':
      engine.configure(m.list, m.seed);
      flush();
      return reply(m.id, engine.verdicts());
    // The heartbeat's answer carries how late checks run.
    case 'ping': return reply(m.id, { ...engine.pulse(), ...gate.stats() });
    // A status is taken once, at its first page, and handed out a page per request; the last
    // page lets it go (a new first page replaces one a reader abandoned).
    case 'status': {
      const cur = m.from > 0 && snap !== undefined && snap.id === m.snap ? snap : { id: ++snapSeq, list: engine.status() };
      const page = statusPage(cur.list, cur === snap ? m.from : 0, m.max);
      snap = page.next === undefined ? undefined : cur;
      return reply(m.id, { ...page, snap: cur.id });
    }
    case 'timing': return reply(m.id, engine.timing());
    case 'latency': return reply(m.id, engine.latency());
    // Written here, a slice of servers per turn: the daemon's main thread only passes it on.
    case 'metrics-text': void checkFamiliesText(engine.status()).then((text) => reply(m.id, text)); return;
    case 'stop':
      engine.stop();
      flush();
      reply(m.id, true);
      port.close();
  }
});
