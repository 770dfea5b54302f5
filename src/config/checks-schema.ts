// Health-check sections of a virtual server: `checks` (on the virtual server as the default for
// its real servers, or on one real server to replace that default), failure handling, slow
// start, quorum with a sorry server, latency-aware weights. keepalived names where it has them
// (inhibit_on_failure, quorum, hysteresis, sorry_server, delay_before_retry as retry_delay).
import { compileLinearRegex } from '../core/linear-regex.js';
import { z } from 'zod';
import type { CheckConfig, CheckTarget, LatencyWeightConfig, StatusRange } from '../check/types.js';
import { argv, compact, expecting, intIn, ms, unicastIp } from './blocks.js';
import { common, dnsCheckSchema, fileCheckSchema, moreSpec, network, pingCheckSchema, smtpCheckSchema, udpCheckSchema } from './check-kinds-schema.js';
import type { Family } from '../core/addr.js';
import { show } from './messages.js';

/** 200, or '200-299'. */
const statusEntry = z.union([z.number(), z.string()]).transform((v, ctx): StatusRange => {
  const bad = (): never => {
    ctx.issues.push({ code: 'custom', message: `expected a status code 100..599 or a range such as '200-299', got ${show(v)}`, input: v });
    return z.NEVER;
  };
  const code = (n: number): boolean => Number.isInteger(n) && n >= 100 && n <= 599;
  if (typeof v === 'number') return code(v) ? { from: v, to: v } : bad();
  const m = /^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$/.exec(v);
  if (!m) return bad();
  const from = Number(m[1]), to = Number(m[2] ?? m[1]);
  return code(from) && code(to) && from <= to ? { from, to } : bad();
});

/** Compiled as the checker will (linear time, see core/linear-regex.ts): what RE2 refuses is an error here. */
const regexText = z.string().superRefine((s, ctx) => {
  try { compileLinearRegex(s); } catch (e) {
    ctx.addIssue({ code: 'custom', message: `must be a regular expression in RE2 syntax (no backreferences or lookaround), got ${show(s)}: ${(e as Error).message}` });
  }
});

const http = {
  ...common,
  ...network,
  method: z.enum(['GET', 'HEAD', 'POST', 'OPTIONS']).default('GET'),
  path: z.string().regex(/^\/[^\s]*$/, { error: (iss) => `must start with '/' and have no spaces, got ${show(iss.input)}` }).default('/'),
  /** Host header (and TLS name unless tls_name). Default: the address checked. */
  host: z.string().min(1).optional(),
  /** Expected status codes. keepalived: status_code. Default 200-299. */
  status: z.array(statusEntry, { error: expecting("a list of codes or ranges such as [200, '300-399']") }).min(1).optional(),
  body_regex: regexText.optional(),
  /** MD5 of the body, hex. keepalived: digest */
  digest: z.string().regex(/^[0-9a-fA-F]{32}$/, { error: (iss) => `must be 32 hex digits (an MD5), got ${show(iss.input)}` }).optional(),
};

const checkSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('tcp'), ...common, ...network }),
    z.strictObject({ type: z.literal('http'), ...http }),
    z.strictObject({
      type: z.literal('https'),
      ...http,
      /** Verify the certificate (chain and name). Off by default, as keepalived's SSL_GET. */
      tls_verify: z.boolean().default(false),
      tls_name: z.string().min(1).optional(),
    }),
    z.strictObject({
      type: z.literal('exec'),
      ...common,
      command: argv,
      /** keepalived misc_dynamic: exit 2..255 sets weight = code - 2. */
      dynamic: z.boolean().default(false),
      /** Skip script security for this check's program (scripts.security). */
      insecure: z.boolean().default(false),
    }),
    z.strictObject({
      type: z.literal('agent'),
      ...common,
      ...network,
      /** Sent after connecting (HAProxy agent-send). */
      send: z.string().max(1024).default(''),
    }),
    udpCheckSchema,
    pingCheckSchema,
    dnsCheckSchema,
    smtpCheckSchema,
    fileCheckSchema,
  ],
  {
    error: (iss) => {
      const input = iss.input;
      if (input === null || typeof input !== 'object' || Array.isArray(input)) return `expected a check mapping {type, ...}, got ${show(input)}`;
      return `type must be one of tcp, http, https, exec, agent, udp, ping, dns, smtp, file, got ${show((input as { type?: unknown }).type)}`;
    },
  },
).superRefine((c, ctx) => {
  if (c.timeout !== undefined && c.timeout > c.interval) {
    ctx.addIssue({ code: 'custom', path: ['timeout'], message: `${c.timeout} s is longer than interval (${c.interval} s): checks would overlap` });
  }
  const timeout = effectiveTimeout(c);
  if (c.retry_delay !== undefined && timeout > c.retry_delay) {
    ctx.addIssue({ code: 'custom', path: ['retry_delay'], message: `${c.retry_delay} s is shorter than timeout (${timeout} s): retries would overlap` });
  }
});

export type RawCheck = z.output<typeof checkSchema>;

/** Seconds: as written, else 3, or the interval when that is shorter. */
function effectiveTimeout(c: { timeout?: number | undefined; interval: number }): number {
  return c.timeout ?? Math.min(3, c.interval);
}

export const checksSchema = z.array(checkSchema, { error: expecting('a list of checks [{type: tcp, ...}]') });

/** keepalived sorry_server: where traffic goes while quorum is lost. */
export const sorryServerSchema = z.strictObject(
  {
    address: unicastIp,
    port: intIn(0, 65535).optional(),
    weight: intIn(1, 65535).default(1),
    lb_kind: z.enum(['nat', 'dr', 'tun']).optional(),
  },
  { error: expecting('a mapping {address, port}') },
);

/** Latency-aware weights: an EWMA of check latency scales the weight between bounds. */
export const latencyWeightSchema = z
  .strictObject(
    {
      /** At or below this EWMA latency (ms) a server gets its full weight. */
      good_ms: intIn(0, 60_000).default(20),
      /** At or above this, it gets min_percent of its weight. */
      bad_ms: intIn(1, 60_000).default(500),
      min_percent: intIn(1, 100).default(10),
      /** A new weight is applied only when it moves by at least this share of the weight. */
      hysteresis_percent: intIn(0, 100).default(10),
      /** EWMA smoothing factor for each new sample. */
      alpha: z.number().refine((n) => n > 0 && n <= 1, { error: (iss) => `must be in (0, 1], got ${show(iss.input)}` }).default(0.3),
    },
    { error: expecting('a mapping {good_ms, bad_ms, min_percent, hysteresis_percent}') },
  )
  .superRefine((l, ctx) => {
    if (l.bad_ms <= l.good_ms) ctx.addIssue({ code: 'custom', path: ['bad_ms'], message: `must be greater than good_ms (${l.good_ms}), got ${l.bad_ms}` });
  });

export const normalizeLatencyWeight = (l: z.output<typeof latencyWeightSchema>): LatencyWeightConfig =>
  ({ goodMs: l.good_ms, badMs: l.bad_ms, minPercent: l.min_percent, hysteresisPercent: l.hysteresis_percent, alpha: l.alpha });

/**
 * A raw check → its resolved form for a real server at `address`/`port`, or the error
 * (relative path and message) when the check needs a port the server does not have.
 */
export function resolveCheck(c: RawCheck, rs: { address: string; family: Family; port: number }):
  { ok: true; value: CheckConfig } | { ok: false; path: string[]; message: string } {
  const timeoutMs = ms(effectiveTimeout(c));
  const timing = { intervalMs: ms(c.interval), retryDelayMs: ms(c.retry_delay ?? c.interval), rise: c.rise, fall: c.fall };
  if (c.type === 'exec') {
    return { ok: true, value: { ...timing, spec: { type: 'exec', argv: c.command, timeoutMs, dynamic: c.dynamic, policy: { secure: !c.insecure, env: [] } } } };
  }
  if (c.type === 'file') return { ok: true, value: { ...timing, spec: moreSpec(c, { address: '', family: 4, port: 0 }, timeoutMs) } };
  const port = c.type === 'ping' ? 0 : c.connect_port ?? rs.port;
  if (port === 0 && c.type !== 'ping') {
    return { ok: false, path: ['connect_port'], message: 'missing: the real server has no port (fwmark or port 0), so the check needs connect_port' };
  }
  const target: CheckTarget = compact({
    address: c.connect_ip?.address ?? rs.address,
    family: c.connect_ip?.family ?? rs.family,
    port,
    bindAddress: c.bind_ip?.address,
  });
  switch (c.type) {
    case 'tcp': return { ok: true, value: { ...timing, spec: { type: 'tcp', target, timeoutMs } } };
    case 'agent': return { ok: true, value: { ...timing, spec: { type: 'agent', target, timeoutMs, send: c.send } } };
    case 'udp': case 'ping': case 'dns': case 'smtp': return { ok: true, value: { ...timing, spec: moreSpec(c, target, timeoutMs) } };
    case 'http': case 'https': {
      const spec = compact({
        type: c.type,
        target,
        timeoutMs,
        method: c.method,
        path: c.path,
        host: c.host,
        status: c.status ?? [{ from: 200, to: 299 }],
        bodyRegex: c.body_regex,
        bodyDigest: c.digest?.toLowerCase(),
        tlsVerify: c.type === 'https' ? c.tls_verify : false,
        tlsName: c.type === 'https' ? c.tls_name : undefined,
      });
      return { ok: true, value: { ...timing, spec } };
    }
  }
}
