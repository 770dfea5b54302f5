// Where the check engine runs, seen from the daemon: in a worker thread in production (sockets,
// TLS handshakes, HTTP parsing and timers of thousands of checks stay off the thread that sends
// VRRP adverts), or in-process with an injected clock and checker in tests. Either way the
// daemon reads verdicts synchronously from a mirror kept current by the engine's events.
import { Worker } from 'node:worker_threads';
import type { Clock } from '../core/clock.js';
import { CheckEngine, type CheckEvent, type LatencyHistogram, type RunCheck, type ServiceStatus, type ServiceVerdicts } from './engine.js';
import type { CheckedService } from './types.js';

export interface CheckTiming {
  runs: number;
  lateP99Ms: number;
  lateMaxMs: number;
}

export interface CheckHost {
  /** Start, keep or stop checks; resolves once the engine applied it and the mirror is current. */
  configure(list: readonly CheckedService[]): Promise<void>;
  /** The mirror: per service key, quorum and per-destination verdicts. */
  verdicts(): ReadonlyMap<string, ServiceVerdicts>;
  status(): Promise<ServiceStatus[]>;
  timing(): Promise<CheckTiming>;
  latency(): Promise<LatencyHistogram[]>;
  close(): Promise<void>;
}

/** Keeps the verdict mirror in step with engine events. */
class Mirror {
  map = new Map<string, ServiceVerdicts>();
  apply(e: CheckEvent): void {
    if (e.kind === 'weight') this.map.get(e.service)?.dests.set(e.server, e.to);
    else if (e.kind === 'quorum') {
      const s = this.map.get(e.service);
      if (s) s.quorumUp = e.up;
    }
  }
}

export function inProcessChecks(o: { clock: Clock; run: RunCheck; onEvent: (e: CheckEvent) => void; random?: () => number }): CheckHost {
  const engine = new CheckEngine({ clock: o.clock, run: o.run, onEvent: o.onEvent, ...(o.random ? { random: o.random } : {}) });
  return {
    configure: (list) => { engine.configure(list); return Promise.resolve(); },
    verdicts: () => engine.verdicts(),
    status: () => Promise.resolve(engine.status()),
    timing: () => Promise.resolve(engine.timing()),
    latency: () => Promise.resolve(engine.latency()),
    close: () => { engine.stop(); return Promise.resolve(); },
  };
}

/** Messages between the daemon and the check worker (worker.ts). */
export type ToWorker =
  | { type: 'configure'; id: number; list: readonly CheckedService[] }
  | { type: 'status'; id: number }
  | { type: 'timing'; id: number }
  | { type: 'latency'; id: number }
  | { type: 'stop'; id: number };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export type FromWorker =
  | { type: 'events'; events: CheckEvent[] }
  | { type: 'reply'; id: number; value: unknown };

export function workerChecks(o: { onEvent: (e: CheckEvent) => void; onError: (err: Error) => void }): CheckHost {
  const mirror = new Mirror();
  const waiting = new Map<number, (v: unknown) => void>();
  let seq = 0;
  let last: readonly CheckedService[] = [];
  let closing = false;
  let worker = spawn();

  function spawn(): Worker {
    const w = new Worker(new URL('./worker.js', import.meta.url));
    w.on('message', (m: FromWorker) => {
      if (m.type === 'events') {
        for (const e of m.events) { mirror.apply(e); o.onEvent(e); }
      } else waiting.get(m.id)?.(m.value);
      if (m.type === 'reply') waiting.delete(m.id);
    });
    w.on('error', (err) => o.onError(err));
    w.on('exit', (code) => {
      if (closing) return;
      // A crashed engine would leave the table frozen: start a new one with the last config
      // (its checks start over from 'unknown', i.e. configured weights until the first results).
      o.onError(new Error(`check worker exited with code ${code}; restarting it`));
      for (const r of waiting.values()) r(undefined);
      waiting.clear();
      setTimeout(() => {
        if (closing) return;
        worker = spawn();
        void configure(last);
      }, 1000).unref();
    });
    return w;
  }

  function ask(m: WithoutId<ToWorker>): Promise<unknown> {
    const id = ++seq;
    return new Promise((resolve) => {
      waiting.set(id, resolve);
      worker.postMessage({ ...m, id });
    });
  }

  async function configure(list: readonly CheckedService[]): Promise<void> {
    last = list;
    const snapshot = await ask({ type: 'configure', list });
    // The worker flushes its pending events before replying, so the snapshot is newer than any
    // event already applied and older than any still to come.
    if (snapshot instanceof Map) mirror.map = snapshot as Map<string, ServiceVerdicts>;
  }

  return {
    configure,
    verdicts: () => mirror.map,
    status: async () => ((await ask({ type: 'status' })) as ServiceStatus[] | undefined) ?? [],
    timing: async () => ((await ask({ type: 'timing' })) as CheckTiming | undefined) ?? { runs: 0, lateP99Ms: 0, lateMaxMs: 0 },
    latency: async () => ((await ask({ type: 'latency' })) as LatencyHistogram[] | undefined) ?? [],
    close: async () => {
      closing = true;
      await Promise.race([ask({ type: 'stop' }), new Promise((r) => setTimeout(r, 1000).unref())]);
      await worker.terminate();
    },
  };
}
