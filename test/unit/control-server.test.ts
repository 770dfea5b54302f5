// The control server's limits, against a real unix socket: one request in flight per connection,
// backpressure from a client that does not read, bounded request lines, a connection cap, an
// idle timeout, and a slow event-stream client dropped with a reason.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createConnection, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { listenControl, type ControlOptions, type DropReason, type Handler } from '../../src/control/server.js';
import type { Reply } from '../../src/control/protocol.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serve(t: { teardown(fn: () => void): void }, handler: Handler, o: ControlOptions = {}): Promise<{ path: string; server: Server; drops: DropReason[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'duet-ctl-'));
  const path = join(dir, 'duet.sock');
  const drops: DropReason[] = [];
  const server = await listenControl(path, handler, { ...o, onDrop: (r) => drops.push(r) });
  t.teardown(() => { server.close(); rmSync(dir, { recursive: true, force: true }); });
  return { path, server, drops };
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path, () => resolve(s));
    s.once('error', reject);
  });
}

/** Lines read from s until it closes or n lines have come (bounded by ms). */
function readLines(s: Socket, n: number, ms = 5000): Promise<string[]> {
  return new Promise((resolve) => {
    const lines: string[] = [];
    let buf = '';
    const done = (): void => { clearTimeout(timer); s.removeAllListeners('data'); resolve(lines); };
    const timer = setTimeout(done, ms);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
      if (lines.length >= n) done();
    });
    s.once('close', done);
    s.resume();
  });
}

/** Polls until cond holds (true) or ms pass (false). */
async function within(ms: number, cond: () => boolean | Promise<boolean>): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (await cond()) return true;
  return cond();
}
const connections = (server: Server): Promise<number> => new Promise((resolve) => server.getConnections((_e, n) => resolve(n)));

const closedWithin = (s: Socket, ms: number): Promise<boolean> => new Promise((resolve) => {
  if (s.destroyed) { resolve(true); return; }
  const timer = setTimeout(() => resolve(false), ms);
  s.once('close', () => { clearTimeout(timer); resolve(true); });
});

test.serial('the socket is created with its final mode (0600 by default, 0660 for a group socket)', async (t) => {
  const a = await serve(t, async () => ({ ok: true, result: null }));
  t.is(statSync(a.path).mode & 0o777, 0o600);
  const b = await serve(t, async () => ({ ok: true, result: null }), { mode: 0o660, gid: 0 });
  t.is(statSync(b.path).mode & 0o777, 0o660);
  t.is(process.umask(), process.umask(), 'umask restored');
});

test.serial('the umask is in force at bind time: the socket never exists with a wider mode', async (t) => {
  // listen() on a path binds synchronously; watch the file's mode from the moment it appears.
  const dir = mkdtempSync(join(tmpdir(), 'duet-ctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'duet.sock');
  const old = process.umask(0);
  try {
    const p = listenControl(path, async () => ({ ok: true, result: null }));
    // Synchronous part of listenControl done: bind has happened, chmod has not run yet.
    const mode = statSync(path).mode & 0o777;
    const server = await p;
    server.close();
    t.is(mode, 0o600, `mode right after bind: ${mode.toString(8)}`);
  } finally {
    process.umask(old);
  }
});

test.serial('one request in flight per connection: the next is read only after the reply', async (t) => {
  const release: Array<() => void> = [];
  let calls = 0;
  const { path } = await serve(t, () => { calls++; return new Promise<Reply>((r) => release.push(() => r({ ok: true, result: calls }))); });
  const s = await connect(path);
  t.teardown(() => s.destroy());
  s.write('{"cmd":"status"}\n{"cmd":"status"}\n{"cmd":"status"}\n');
  await sleep(100);
  t.is(calls, 1);
  const lines = readLines(s, 3);
  release.shift()!();
  await sleep(50);
  t.is(calls, 2);
  release.shift()!();
  await sleep(50);
  release.shift()!();
  t.deepEqual((await lines).map((l) => (JSON.parse(l) as { result: number }).result), [1, 2, 3]);
});

test.serial('a client that pipelines requests and does not read stalls only itself, with bounded output held', async (t) => {
  let calls = 0;
  const big = 'x'.repeat(10_000);
  const { path } = await serve(t, async () => { calls++; return { ok: true, result: big }; });
  const flood = await connect(path);
  t.teardown(() => flood.destroy());
  flood.pause();
  const N = 5000;
  flood.write('{"cmd":"status"}\n'.repeat(N));
  await sleep(500);
  const stalled = calls;
  t.log(`answered before the client read anything: ${stalled} of ${N}`);
  t.true(stalled < 200, `${stalled} replies made for a client that reads nothing`);
  // Another client is served meanwhile.
  const other = await connect(path);
  t.teardown(() => other.destroy());
  other.write('{"cmd":"status"}\n');
  t.is((await readLines(other, 1)).length, 1);
  // Once the flood client reads, every request is answered, in order.
  const lines = await readLines(flood, N, 20_000);
  t.is(lines.length, N);
});

test.serial('a request line past the limit gets an error and the connection is closed', async (t) => {
  const { path, drops } = await serve(t, async () => ({ ok: true, result: null }), { limits: { maxLineBytes: 1000 } });
  const s = await connect(path);
  t.teardown(() => s.destroy());
  s.write('{"cmd":"' + 'a'.repeat(5000));
  const lines = await readLines(s, 1);
  t.regex(lines[0]!, /DUET_E_REQUEST.*longer than 1000 bytes/);
  t.true(await closedWithin(s, 2000));
  t.deepEqual(drops, ['line-too-long']);
});

test.serial('connections past the cap get DUET_E_BUSY; the ones already open keep working', async (t) => {
  const { path, drops } = await serve(t, async () => ({ ok: true, result: 'hi' }), { limits: { maxConnections: 3 } });
  const held = await Promise.all([connect(path), connect(path), connect(path)]);
  t.teardown(() => held.forEach((s) => s.destroy()));
  await sleep(50);
  const extra = await connect(path);
  t.teardown(() => extra.destroy());
  const lines = await readLines(extra, 1);
  t.regex(lines[0]!, /DUET_E_BUSY/);
  t.deepEqual(drops, ['busy']);
  held[0]!.write('{"cmd":"status"}\n');
  t.deepEqual(await readLines(held[0]!, 1), ['{"ok":true,"result":"hi"}']);
  held[1]!.destroy();
  await sleep(50);
  const again = await connect(path);
  t.teardown(() => again.destroy());
  again.write('{"cmd":"status"}\n');
  t.deepEqual(await readLines(again, 1), ['{"ok":true,"result":"hi"}'], 'a freed slot is usable');
});

test.serial('an idle connection is closed; one with a request in flight (an event stream) is not', async (t) => {
  let stop: (() => void) | undefined;
  const { path, drops } = await serve(t, async (req, _progress, closed) => {
    if (req.cmd === 'events') { await Promise.race([closed, new Promise<void>((r) => { stop = r; })]); return { ok: true, result: 'ended' }; }
    return { ok: true, result: null };
  }, { limits: { idleMs: 200 } });
  const idle = await connect(path);
  const streaming = await connect(path);
  t.teardown(() => { idle.destroy(); streaming.destroy(); });
  streaming.write('{"cmd":"events"}\n');
  t.true(await closedWithin(idle, 2000), 'idle connection closed');
  await sleep(400);
  t.false(streaming.destroyed, `the stream stays open past the idle time ${JSON.stringify(drops)}`);
  const ended = readLines(streaming, 1);
  stop!();
  t.deepEqual(await ended, ['{"ok":true,"result":"ended"}']);
  t.deepEqual(drops, ['idle']);
});

test.serial('an event-stream client that does not read is told and dropped; the stream ends for the handler', async (t) => {
  let handlerDone = false;
  let sent = 0;
  const { path, drops, server } = await serve(t, async (_req, progress, closed) => {
    let open = true;
    void closed.then(() => { open = false; });
    // An event every 2 ms, bounded in count.
    while (open && sent < 20_000) { progress({ type: 'x', pad: 'p'.repeat(2000) }); sent++; await sleep(1); }
    handlerDone = true;
    return { ok: true, result: null };
  }, { limits: { maxQueuedBytes: 64 << 10 } });
  const s = await connect(path);
  t.teardown(() => s.destroy());
  s.pause();
  s.write('{"cmd":"events"}\n');
  // The client reads nothing, so it cannot see the close: the server's side is what counts.
  t.true(await within(10_000, async () => drops.length > 0 && await connections(server) === 0), 'dropped');
  t.deepEqual(drops, ['slow-client']);
  t.log(`events generated before the drop: ${sent}`);
  t.true(sent < 20_000);
  await sleep(100);
  t.true(handlerDone, 'the handler saw the connection close');
});

test.serial('a client that never takes a large reply is dropped after the idle time', async (t) => {
  const huge = 'y'.repeat(8 << 20);
  const { path, drops, server } = await serve(t, async () => ({ ok: true, result: huge }), { limits: { idleMs: 300 } });
  const s = await connect(path);
  t.teardown(() => s.destroy());
  s.pause();
  s.write('{"cmd":"status"}\n');
  t.true(await within(5000, async () => drops.length > 0 && await connections(server) === 0));
  t.deepEqual(drops, ['slow-client']);
});
