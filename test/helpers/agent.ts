// Host-side handle on test/netns/fixtures/agent.js running in a lab namespace.
import type { ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../lab/netns.js';

export const AGENT_SCRIPT = fileURLToPath(new URL('../netns/fixtures/agent.js', import.meta.url));

export interface AgentEvent {
  event: string;
  [k: string]: unknown;
}

export class AgentError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

export interface Agent {
  host: string;
  /** Every event line received so far, in order. */
  events: AgentEvent[];
  call<T = unknown>(op: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** First event (already received or future) matching pred, within timeoutMs. */
  waitEvent(pred: (e: AgentEvent) => boolean, timeoutMs: number, what?: string): Promise<AgentEvent>;
  stderr(): string;
  stop(): Promise<void>;
}

export async function startAgent(lab: Lab, host: string, o: { readyTimeoutMs?: number } = {}): Promise<Agent> {
  const child: ChildProcess = lab.spawn(host, [process.execPath, AGENT_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: AgentEvent[] = [];
  const waiters = new Set<{ pred: (e: AgentEvent) => boolean; resolve: (e: AgentEvent) => void }>();
  const replies = new Map<number, (r: { ok: boolean; value?: unknown; error?: { message: string; code?: string } }) => void>();
  let err = '';
  let nextId = 1;
  let exited: string | undefined;

  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    err += d;
  });
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line);
    } catch {
      err += `[non-JSON stdout] ${line}\n`;
      return;
    }
    if (typeof m.id === 'number' && replies.has(m.id)) {
      const r = replies.get(m.id)!;
      replies.delete(m.id);
      r(m as never);
      return;
    }
    if (typeof m.event === 'string') {
      const e = m as AgentEvent;
      events.push(e);
      for (const w of [...waiters]) {
        if (w.pred(e)) {
          waiters.delete(w);
          w.resolve(e);
        }
      }
    }
  });
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, sig) => {
      exited = `agent on ${host} exited (code ${code}, signal ${sig})`;
      for (const r of replies.values()) r({ ok: false, error: { message: `${exited}: ${err.trim()}` } });
      replies.clear();
      resolve();
    }),
  );

  const waitEvent = (pred: (e: AgentEvent) => boolean, timeoutMs: number, what = 'event'): Promise<AgentEvent> => {
    const seen = events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (e: AgentEvent) => {
          clearTimeout(t);
          resolve(e);
        },
      };
      const t = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`agent on ${host}: no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(events.slice(-10))}; stderr: ${err.trim()}`));
      }, timeoutMs);
      waiters.add(w);
    });
  };

  const agent: Agent = {
    host,
    events,
    call<T>(op: string, args: Record<string, unknown> = {}, timeoutMs = 5000): Promise<T> {
      if (exited) return Promise.reject(new Error(`${exited}: ${err.trim()}`));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => {
          replies.delete(id);
          reject(new Error(`agent on ${host}: ${op} timed out after ${timeoutMs} ms; stderr: ${err.trim()}`));
        }, timeoutMs);
        replies.set(id, (r) => {
          clearTimeout(t);
          if (r.ok) resolve(r.value as T);
          else reject(new AgentError(`agent on ${host}: ${op}: ${r.error?.message}`, r.error?.code));
        });
        child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
      });
    },
    waitEvent,
    stderr: () => err,
    async stop() {
      if (exited) return;
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exitPromise;
      clearTimeout(t);
    },
  };
  await waitEvent((e) => e.event === 'ready', o.readyTimeoutMs ?? 10_000, 'ready').catch(async (e) => {
    child.kill('SIGKILL');
    throw e;
  });
  return agent;
}
