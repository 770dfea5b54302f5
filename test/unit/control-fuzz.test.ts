// Control protocol fuzzing (fast-check, fixed seeds, bounded runs and time). parseRequest on
// arbitrary text, arbitrary JSON, valid requests with one field mutated (huge numbers, unicode,
// nesting, __proto__ and friends) and then their text mutated: it never throws, answers within
// a bound, and gives either a Request of exactly the documented shape or {error} with a short,
// printable message; Object.prototype stays clean. Then a real listenControl server on a temp
// socket with a trivial handler: random lines (and random byte chunkings) get exactly one reply
// per line, an oversize line closes only that connection, and the server keeps answering.
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRequest, type Request } from '../../src/control/protocol.js';
import { listenControl } from '../../src/control/server.js';

// ---------------------------------------------------------------------------------------------
// The documented shape of a Request, checked independently of the parser.

const isBool = (v: unknown): boolean => typeof v === 'boolean';
const ALLOWED: Record<string, readonly string[]> = {
  status: [], reload: [], events: [],
  failover: ['instances', 'clear', 'sticky', 'timeoutMs'], takeover: ['instances', 'clear', 'sticky', 'timeoutMs'],
  maintenance: ['on', 'sticky', 'force'], restart: ['supervised'], ipvs: ['what'],
  server: ['action', 'service', 'server', 'weight', 'timeoutMs'],
};

/** Why r is not a well-formed Request; undefined when it is one. */
function malformed(r: Record<string, unknown>): string | undefined {
  if (Object.getPrototypeOf(r) !== Object.prototype) return 'not a plain object';
  const cmd = r['cmd'];
  if (typeof cmd !== 'string' || !Object.hasOwn(ALLOWED, cmd)) return `cmd ${String(cmd)}`;
  const extra = Object.keys(r).filter((k) => k !== 'cmd' && !ALLOWED[cmd]!.includes(k));
  if (extra.length > 0) return `extra fields ${extra.join(',')} for ${cmd}`;
  for (const k of ['clear', 'sticky', 'force', 'on', 'supervised']) if (k in r && !isBool(r[k])) return `${k} not boolean`;
  switch (cmd) {
    case 'failover': case 'takeover': {
      const i = r['instances'];
      if (i !== 'all' && !(Array.isArray(i) && i.length > 0 && i.every((x) => typeof x === 'string'))) return 'instances';
      const t = r['timeoutMs'];
      if (t !== undefined && !(typeof t === 'number' && t > 0 && t <= 600_000)) return 'timeoutMs';
      return undefined;
    }
    case 'maintenance': return isBool(r['on']) ? undefined : 'on';
    case 'ipvs': return r['what'] === 'list' || r['what'] === 'conns' ? undefined : 'what';
    case 'server': {
      if (!['weight', 'enable', 'disable', 'drain'].includes(r['action'] as string)) return 'action';
      for (const k of ['service', 'server']) if (typeof r[k] !== 'string' || r[k] === '') return k;
      const w = r['weight'];
      if (w !== undefined && !(r['action'] === 'weight' && Number.isInteger(w) && (w as number) >= 0 && (w as number) <= 65535)) return `weight ${String(w)} with ${String(r['action'])}`;
      const t = r['timeoutMs'];
      if (t !== undefined && !(typeof t === 'number' && t > 0 && t <= 86_400_000)) return 'timeoutMs';
      return undefined;
    }
    default: return undefined;
  }
}

/** A clean error: {error} alone, a short message of printable characters. */
function badError(r: Record<string, unknown>): string | undefined {
  const keys = Object.keys(r);
  const m = r['error'];
  if (keys.length !== 1 || typeof m !== 'string') return `error reply keys ${keys.join(',')}`;
  if (m.length === 0 || m.length > 120) return `message length ${m.length}`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(m)) return `control character in ${JSON.stringify(m)}`;
  return undefined;
}

/**
 * Parses within budgetMs and gives a valid Request or a clean error; returns what is wrong, if
 * anything. A parse over budget is timed again (a GC pause or a busy machine is not slow code).
 */
function judge(line: string, budgetMs = 100): string | undefined {
  let r: Request | { error: string };
  const timed = (): number => {
    const t0 = performance.now();
    r = parseRequest(line);
    return performance.now() - t0;
  };
  let ms: number;
  try { ms = timed(); if (ms > budgetMs) ms = Math.min(ms, timed()); } catch (e) { return `threw ${String(e)}`; }
  if (ms > budgetMs) return `took ${ms.toFixed(1)} ms`;
  r = r!;
  if (({} as Record<string, unknown>)['cmd'] !== undefined || ({} as Record<string, unknown>)['polluted'] !== undefined) return 'Object.prototype polluted';
  const o = r as Record<string, unknown>;
  return 'error' in r ? badError(o) : malformed(o);
}

const check = (t: import('ava').ExecutionContext, prop: fc.IRawProperty<[string]> | fc.IProperty<[string]>, numRuns: number, seed: number): void => {
  const out = fc.check(prop, { numRuns, seed }) as fc.RunDetails<[string]>;
  t.false(out.failed, out.failed ? `counterexample ${JSON.stringify(out.counterexample?.[0]).slice(0, 300)}: ${String(out.errorInstance)}` : '');
};
const holds = (line: string): void => { const why = judge(line); if (why) throw new Error(why); };

// ---------------------------------------------------------------------------------------------
// Generators

const VALID: Record<string, unknown>[] = [
  { cmd: 'status' }, { cmd: 'reload' }, { cmd: 'events' },
  { cmd: 'failover', instances: ['VI_1'], sticky: true, timeoutMs: 5000 }, { cmd: 'takeover', instances: 'all', clear: true },
  { cmd: 'maintenance', on: true, force: false }, { cmd: 'restart', supervised: true }, { cmd: 'ipvs', what: 'conns' },
  { cmd: 'server', action: 'weight', service: 'web', server: '192.0.2.21:80', weight: 5 },
  { cmd: 'server', action: 'drain', service: 'web', server: '192.0.2.21', timeoutMs: 60_000 },
];
const KEYS = ['cmd', 'instances', 'clear', 'sticky', 'force', 'on', 'supervised', 'timeoutMs', 'what', 'action', 'service', 'server', 'weight',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', ''];

const nested = (depth: number, leaf: unknown): unknown => { let v = leaf; for (let i = 0; i < depth; i++) v = [v]; return v; };
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(1e308, -1e308, 5e-324, -0, 2 ** 53 + 1, -(2 ** 31), 4294967296, 65535, 65536, 600_000, 600_001, 0, -1, 0.5, 'all', 'list', 'weight', true, false, null,
    'VI_1\u0000', '\u202e\u2028', '💥'.repeat(1000), 'x'.repeat(100_000), { cmd: 'status' }, { polluted: true }, []),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.integer({ min: 1, max: 2000 }).map((d) => nested(d, 'x')),
);

/** A valid request with up to three fields set, replaced or deleted. */
const mutatedRequest = fc.tuple(
  fc.constantFrom(...VALID),
  fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.option(nastyValue, { nil: undefined })), { minLength: 1, maxLength: 3 }),
).map(([base, edits]) => {
  const o: Record<string, unknown> = { ...base };
  for (const [k, v] of edits) {
    if (v === undefined) delete o[k];
    // defineProperty so "__proto__" becomes an own key, as JSON.parse would make it.
    else Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return JSON.stringify(o);
});

/** Then the text itself: a character replaced, inserted or removed, or the line cut short. */
const mutatedText = fc.tuple(mutatedRequest, fc.array(fc.tuple(fc.nat(), fc.constantFrom('replace', 'insert', 'delete', 'cut'), fc.string({ unit: 'binary', minLength: 1, maxLength: 2 })), { maxLength: 4 }))
  .map(([s, edits]) => {
    let out = s;
    for (const [at, how, ch] of edits) {
      const i = out.length === 0 ? 0 : at % out.length;
      if (how === 'replace') out = out.slice(0, i) + ch + out.slice(i + 1);
      else if (how === 'insert') out = out.slice(0, i) + ch + out.slice(i);
      else if (how === 'delete') out = out.slice(0, i) + out.slice(i + 1);
      else out = out.slice(0, i);
    }
    return out;
  });

// ---------------------------------------------------------------------------------------------
// parseRequest

test('parseRequest: arbitrary text (unicode, binary) never throws; an error or a valid request', (t) => {
  check(t, fc.property(fc.string({ unit: 'binary', maxLength: 300 }), holds), 3000, 1301);
});

test('parseRequest: arbitrary JSON values', (t) => {
  check(t, fc.property(fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)), holds), 2000, 1302);
});

test('parseRequest: valid requests with fields mutated (huge numbers, deep nesting, __proto__, long strings)', (t) => {
  check(t, fc.property(mutatedRequest, holds), 3000, 1303);
});

test('parseRequest: mutated requests with their text mutated too', (t) => {
  check(t, fc.property(mutatedText, holds), 3000, 1304);
});

test('parseRequest: the documented requests parse to themselves', (t) => {
  for (const v of VALID) t.deepEqual(parseRequest(JSON.stringify(v)), v);
});

test('parseRequest: prototype keys, 100k-deep nesting and a 1 MB line: clean answers, quickly, nothing polluted', (t) => {
  const lines = [
    '{"__proto__":{"cmd":"status"}}', '{"cmd":"status","__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}},"cmd":"reload"}',
    '{"cmd":"__proto__"}', '{"cmd":"constructor"}', '{"cmd":"toString"}', '{"cmd":"hasOwnProperty"}',
    '{"cmd":"server","action":"weight","service":"web","server":"a","__proto__":{"weight":70000}}',
    '{"cmd":"failover","instances":{"length":1,"0":"VI_1"}}', '{"cmd":"maintenance","on":"true"}',
    '['.repeat(100_000) + ']'.repeat(100_000), `{"cmd":"status","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, '['.repeat(100_000),
    `{"cmd":"${'x'.repeat(1 << 20)}"}`, `{"cmd":"failover","instances":[${'"a",'.repeat(200_000)}"a"]}`, ' '.repeat(1 << 20), '\uFEFF{"cmd":"status"}',
  ];
  for (const l of lines) t.is(judge(l, 500), undefined, l.slice(0, 80));
  t.deepEqual(parseRequest('{"cmd":"status","__proto__":{"polluted":1}}'), { cmd: 'status' });
});

// ---------------------------------------------------------------------------------------------
// A real server

interface Conn {
  send(data: string | Buffer): void;
  /** Resolves with the reply lines once `n` have arrived, or with what came when the server closes or the deadline passes. */
  replies(n: number, ms: number): Promise<{ lines: string[]; closed: boolean }>;
  end(): void;
}

function connect(path: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    let closed = false;
    let wake: (() => void) | undefined;
    s.setEncoding('utf8');
    s.on('data', (c: string) => { buf += c; wake?.(); });
    s.on('close', () => { closed = true; wake?.(); });
    s.on('error', () => { closed = true; wake?.(); });
    s.once('connect', () => resolve({
      send: (d) => { if (!s.destroyed) s.write(d); },
      end: () => s.destroy(),
      async replies(n, ms) {
        const deadline = performance.now() + ms;
        const lines = (): string[] => buf.split('\n').slice(0, -1);
        while (lines().length < n && !closed && performance.now() < deadline) {
          await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
        }
        return { lines: lines(), closed };
      },
    }));
    s.once('error', reject);
  });
}

async function server(t: import('ava').ExecutionContext): Promise<{ path: string; srv: Server; handled: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'duet-ctlfuzz-'));
  const path = join(dir, 'duet.sock');
  const handled: string[] = [];
  const srv = await listenControl(path, async (r) => { handled.push(r.cmd); return { ok: true, result: r.cmd }; });
  t.teardown(() => { srv.close(); rmSync(dir, { recursive: true, force: true }); });
  return { path, srv, handled };
}

/** Each reply is one JSON line {ok: true, result} or {ok: false, error: {code, message}}. */
function wellFormed(line: string): boolean {
  try {
    const r = JSON.parse(line) as { ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } };
    return r.ok === true ? 'result' in r : r.ok === false && typeof r.error?.code === 'string' && typeof r.error.message === 'string';
  } catch { return false; }
}

test('server: random lines written in random byte chunks each get exactly one well-formed reply', async (t) => {
  const { path } = await server(t);
  const line = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), mutatedRequest.filter((s) => s.length < 4000), mutatedText.filter((s) => s.length < 4000), fc.constantFrom(...VALID.map((v) => JSON.stringify(v))))
    .map((s) => s.replace(/\n/g, ' '));
  const batch = fc.tuple(fc.array(line, { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }));
  const t0 = performance.now();
  let sent = 0;
  await fc.assert(fc.asyncProperty(batch, async ([lines, cuts]) => {
    const c = await connect(path);
    try {
      // The bytes of all lines, written in pieces of the generated sizes (splitting UTF-8 sequences too).
      const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
      for (let at = 0, k = 0; at < bytes.length; k++) {
        const n = cuts[k % cuts.length]!;
        c.send(bytes.subarray(at, at + n));
        at += n;
      }
      const r = await c.replies(lines.length, 5000);
      sent += lines.length;
      if (r.lines.length !== lines.length) throw new Error(`${lines.length} lines sent, ${r.lines.length} replies${r.closed ? ' (closed)' : ''}`);
      const bad = r.lines.find((l) => !wellFormed(l));
      if (bad !== undefined) throw new Error(`malformed reply ${bad.slice(0, 200)}`);
      // No more than one reply per line: nothing else arrives.
      const extra = await c.replies(lines.length + 1, 100);
      if (extra.lines.length > lines.length) throw new Error(`extra reply ${extra.lines[lines.length]!}`);
    } finally { c.end(); }
  }), { numRuns: 60, seed: 1305 });
  t.true(sent > 0);
  t.log(`${sent} lines, ${Math.round(performance.now() - t0)} ms`);
});

test('server: an oversize line closes that connection only; others and new ones are answered', async (t) => {
  const { path, handled } = await server(t);
  const bystander = await connect(path);
  const big = await connect(path);
  // 4 MB without a newline, in 64 KiB writes: far over any line limit.
  const chunk = Buffer.alloc(64 * 1024, 'x');
  for (let i = 0; i < 64; i++) big.send(chunk);
  // One error line saying why, then the close (waiting for a second line that never comes).
  const r = await big.replies(2, 10_000);
  t.true(r.closed, 'the connection with the oversize line is closed');
  t.is(r.lines.length, 1);
  t.regex(r.lines[0] ?? '', /"code":"DUET_E_REQUEST".*longer than/);
  bystander.send('{"cmd":"status"}\n');
  t.deepEqual((await bystander.replies(1, 5000)).lines, ['{"ok":true,"result":"status"}']);
  const fresh = await connect(path);
  fresh.send('{"cmd":"reload"}\nnot json\n');
  const f = await fresh.replies(2, 5000);
  t.is(f.lines.length, 2);
  t.true(f.lines.includes('{"ok":true,"result":"reload"}'));
  t.true(f.lines.some((l) => l.includes('DUET_E_REQUEST')));
  t.deepEqual(handled, ['status', 'reload']);
  for (const c of [bystander, fresh]) c.end();
});

test('server: many connections opened, fed garbage and dropped mid-line; the server still answers', async (t) => {
  const { path } = await server(t);
  const rnd = fc.sample(fc.string({ unit: 'binary', maxLength: 500 }), { numRuns: 200, seed: 1306 });
  for (let i = 0; i < 200; i += 20) {
    const conns = await Promise.all(rnd.slice(i, i + 20).map(() => connect(path)));
    conns.forEach((c, k) => { c.send(rnd[i + k]!); c.end(); });
  }
  const c = await connect(path);
  c.send('{"cmd":"status"}\n');
  t.deepEqual((await c.replies(1, 5000)).lines, ['{"ok":true,"result":"status"}']);
  c.end();
});
