// What every check has (timing, connection) and the checks beyond TCP and HTTP: udp, ping, dns,
// smtp, file (keepalived UDP_CHECK, PING_CHECK, DNS_CHECK, SMTP_CHECK, FILE_CHECK), each with its
// resolver to a spec. checks-schema.ts puts them in the `checks` union.
import { hostname } from 'node:os';
import { z } from 'zod';
import { parseHexString } from '../check/checkers/udp.js';
import { DNS_QUERY_TYPES, type CheckSpec, type CheckTarget } from '../check/types.js';
import { canonicalAddr } from '../core/addr.js';
import { intIn, seconds, unicastIp } from './blocks.js';
import { show } from './messages.js';

export const common = {
  /** Seconds between checks. keepalived: delay_loop */
  interval: seconds(0.05, 86400).default(5),
  /** Seconds one check may take. keepalived: connect_timeout. Default 3, or the interval if shorter. */
  timeout: seconds(0.01, 3600).optional(),
  /** Successes in a row that bring a failed server back. */
  rise: intIn(1, 100).default(2),
  /** Failures in a row that take a healthy server out. keepalived: retry + 1 */
  fall: intIn(1, 100).default(3),
  /** Seconds to the next try after a failure while still counting to fall. keepalived: delay_before_retry */
  retry_delay: seconds(0.05, 86400).optional(),
};

export const network = {
  /** Check this address instead of the real server's. keepalived: connect_ip */
  connect_ip: unicastIp.optional(),
  /** Check this port instead of the real server's. keepalived: connect_port */
  connect_port: intIn(1, 65535).optional(),
  /** Source address. keepalived: bindto */
  bind_ip: unicastIp.optional(),
};

/** keepalived HEX_STR ("0a 1b2c"); with masks, x digits match anything (require_reply). */
const hexString = (masks: boolean) => z.string().superRefine((s, ctx) => {
  if (parseHexString(s, masks) === undefined) {
    ctx.addIssue({ code: 'custom', message: `must be hex digits${masks ? ' (x for any)' : ''}, spaces allowed, such as '0a 1b2c', got ${show(s)}` });
  }
});

export const udpCheckSchema = z.strictObject({
  type: z.literal('udp'),
  ...common,
  ...network,
  /** Datagram to send, hex. keepalived: payload. Default: 32 random bytes a check, as keepalived. */
  payload: hexString(false).optional(),
  /** Datagram to send, as text (UTF-8); instead of payload. */
  payload_text: z.string().min(1).max(65507).optional(),
  /** true: a reply must come; hex (x: any digit): the reply must also start so. keepalived: require_reply */
  require_reply: z.union([z.boolean(), hexString(true)]).default(false),
  /** As require_reply with hex, given as text. */
  require_reply_text: z.string().min(1).optional(),
  /** keepalived: min_reply_length, max_reply_length (bytes; when a reply is required). */
  min_reply_length: intIn(0, 65535).default(0),
  max_reply_length: intIn(0, 65535).default(255),
}).superRefine((c, ctx) => {
  if (c.payload !== undefined && c.payload_text !== undefined) ctx.addIssue({ code: 'custom', path: ['payload_text'], message: 'give payload (hex) or payload_text, not both' });
  if (typeof c.require_reply === 'string' && c.require_reply_text !== undefined) ctx.addIssue({ code: 'custom', path: ['require_reply_text'], message: 'give require_reply as hex or require_reply_text, not both' });
  if (c.min_reply_length > c.max_reply_length) ctx.addIssue({ code: 'custom', path: ['min_reply_length'], message: `${c.min_reply_length} is above max_reply_length (${c.max_reply_length}): the check could never pass` });
});

export const pingCheckSchema = z.strictObject({
  type: z.literal('ping'),
  ...common,
  connect_ip: network.connect_ip,
  bind_ip: network.bind_ip,
});

const dnsName = z.string().regex(/^(\.|([A-Za-z0-9_*-]{1,63}\.)*[A-Za-z0-9_*-]{1,63}\.?)$/, {
  error: (iss) => `must be a domain name such as 'www.example.org' or '.', got ${show(iss.input)}`,
}).refine((s) => s.length <= 254, { error: 'must be at most 253 characters' });

export const dnsCheckSchema = z.strictObject({
  type: z.literal('dns'),
  ...common,
  ...network,
  /** keepalived: type. */
  query_type: z.enum(DNS_QUERY_TYPES, { error: (iss) => `must be one of ${DNS_QUERY_TYPES.join(', ')}, got ${show(iss.input)}` }).default('SOA'),
  /** keepalived: name. */
  name: dnsName.default('.'),
  /** Values that must all be among the answers: addresses (A, AAAA), names (NS, CNAME, PTR, MX, SRV, SOA's mname) or TXT text. */
  expect: z.array(z.string().min(1)).default([]),
}).superRefine((c, ctx) => {
  if (c.query_type !== 'A' && c.query_type !== 'AAAA') return;
  const family = c.query_type === 'A' ? 4 : 6;
  c.expect.forEach((e, i) => {
    if (canonicalAddr(family, e) === undefined) ctx.addIssue({ code: 'custom', path: ['expect', i], message: `must be an IPv${family} address for a ${c.query_type} query, got ${show(e)}` });
  });
});

export const smtpCheckSchema = z.strictObject({
  type: z.literal('smtp'),
  ...common,
  ...network,
  /** keepalived: helo_name. Default: this host's name. */
  helo_name: z.string().regex(/^[^\s]{1,255}$/, { error: (iss) => `must be one word, got ${show(iss.input)}` }).optional(),
  /** Say EHLO rather than HELO. */
  ehlo: z.boolean().default(false),
});

export const fileCheckSchema = z.strictObject({
  type: z.literal('file'),
  ...common,
  // keepalived reads the file as soon as it changes (inotify) and counts no retries.
  interval: seconds(0.05, 86400).default(1),
  rise: intIn(1, 100).default(1),
  fall: intIn(1, 100).default(1),
  /** The file. keepalived: track_file's file. */
  file: z.string().regex(/^\//, { error: (iss) => `must be an absolute path, got ${show(iss.input)}` }),
  /** keepalived: weight N. 0: a non-zero value fails; else value * weight is added to the server's weight. */
  weight: intIn(-2147483647, 2147483647).default(1),
  /** keepalived: weight N reverse. */
  reverse: z.boolean().default(false),
});

type Udp = z.output<typeof udpCheckSchema>;
type Ping = z.output<typeof pingCheckSchema>;
type Dns = z.output<typeof dnsCheckSchema>;
type Smtp = z.output<typeof smtpCheckSchema>;
type File = z.output<typeof fileCheckSchema>;
export type MoreCheck = Udp | Ping | Dns | Smtp | File;

/** The spec of a check beyond tcp/http/exec/agent (ping: target port 0; file: no target). */
export function moreSpec(c: MoreCheck, target: CheckTarget, timeoutMs: number): CheckSpec {
  switch (c.type) {
    case 'ping': return { type: 'ping', target, timeoutMs };
    case 'file': return { type: 'file', path: c.file, timeoutMs, weight: c.weight, reverse: c.reverse };
    case 'smtp': return { type: 'smtp', target, timeoutMs, heloName: c.helo_name ?? hostname(), ehlo: c.ehlo };
    case 'dns': return { type: 'dns', target, timeoutMs, queryType: c.query_type, name: c.name === '.' ? '' : c.name.replace(/\.$/, ''), expect: c.expect };
    case 'udp': return udpSpec(c, target, timeoutMs);
  }
}

function udpSpec(c: Udp, target: CheckTarget, timeoutMs: number): CheckSpec {
  const text = (s: string): { data: Uint8Array; mask: Uint8Array } => {
    const data = new Uint8Array(Buffer.from(s, 'utf8'));
    return { data, mask: new Uint8Array(data.length) };
  };
  // Also called on a check that failed validation (the virtual server's own checks still run): no `!`.
  const payload = c.payload !== undefined ? parseHexString(c.payload, false)?.data : c.payload_text !== undefined ? text(c.payload_text).data : undefined;
  const reply = typeof c.require_reply === 'string' ? parseHexString(c.require_reply, true) : c.require_reply_text !== undefined ? text(c.require_reply_text) : undefined;
  return {
    type: 'udp', target, timeoutMs,
    ...(payload ? { payload } : {}),
    requireReply: c.require_reply !== false || reply !== undefined,
    ...(reply ? { reply } : {}),
    minReplyLength: c.min_reply_length,
    maxReplyLength: c.max_reply_length,
  };
}
