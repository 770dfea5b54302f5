// pino everywhere: one JSON line per event, fixed messages, data in fields.
import { pino, type Logger as PinoLogger } from 'pino';
import { createRequire } from 'node:module';
import { REDACTED, redactPaths } from './redact.js';

export type Logger = PinoLogger;

export function createLogger(o: { level?: string; name?: string; destination?: number; pretty?: boolean } = {}): Logger {
  // Secrets (passwords and fields named like them) are replaced with [redacted], however deep.
  const opts = { level: o.level ?? 'info', base: o.name ? { node: o.name } : {}, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: redactPaths(), censor: REDACTED } };
  // Pretty: for a person at a terminal (colours when it is one); the same events and fields.
  // Loaded only when asked for: every module costs start-up time (much of it under emulation).
  if (o.pretty) return pino(opts, (createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')).PinoPretty({ destination: o.destination ?? 1, sync: false, colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  // Asynchronous: a slow reader of stdout must never stall the advert timer. Flushed on stop.
  return pino(opts, pino.destination({ dest: o.destination ?? 1, sync: false }));
}

/**
 * Peer-caused warnings (bad packets, send errors) are logged at most once per window per key,
 * with the number suppressed since, so a flood cannot drown the log or the event loop.
 */
export class RateLimitedLog {
  private last = new Map<string, { at: number; suppressed: number }>();
  constructor(private readonly log: Logger, private readonly windowMs: number, private readonly now: () => number) {}

  warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const e = this.last.get(key);
    if (e && t - e.at < this.windowMs) { e.suppressed++; return; }
    this.log.warn({ ...fields, ...(e?.suppressed ? { suppressed: e.suppressed } : {}) }, msg);
    this.last.set(key, { at: t, suppressed: 0 });
  }
}
