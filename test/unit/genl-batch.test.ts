// GenlSocket.requestMany: the native batch addon (native/genl_batch.c) against one request() at a
// time, on this machine's kernel. Generic netlink's own ctrl family is in every kernel and needs
// no privilege, so this runs here; the IPVS side is test/vm/dump-batch.test.ts.
import test from 'ava';
import { GenlError, GenlSocket, loadGenlBatchAddon, splitBatch, type GenlRaw } from '../../src/netlink/genl.js';
import { GENL_ID_CTRL, NLMSG_ERROR } from '../../src/netlink/attrs.js';

const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_NAME = 2;

/** A GETFAMILY payload (genlmsghdr + CTRL_ATTR_FAMILY_NAME when named). */
function getFamily(name?: string): Uint8Array {
  const g = [CTRL_CMD_GETFAMILY, 1, 0, 0];
  if (name === undefined) return Uint8Array.from(g);
  const s = Buffer.from(`${name}\0`);
  const a = Buffer.alloc(4 + ((s.length + 3) & ~3));
  a.writeUInt16LE(4 + s.length, 0);
  a.writeUInt16LE(CTRL_ATTR_FAMILY_NAME, 2);
  s.copy(a, 4);
  return Buffer.concat([Buffer.from(g), a]);
}

/**
 * What must be equal between the two paths: everything but the sequence number and port, which
 * each socket chooses, also where an NLMSG_ERROR echoes the request's header (its seq and port).
 */
function comparable(rs: GenlRaw[][]): unknown {
  return rs.map((r) => r.map((m) => {
    const data = Buffer.from(m.data);
    if (m.type === NLMSG_ERROR) data.fill(0, 4 + 8, 4 + 16); // echoed nlmsg_seq, nlmsg_pid
    if (m.type === NLMSG_ERROR) data.fill(0, 4 + 6, 4 + 8); // echoed flags: ACK differs for dumps
    return { type: m.type, flags: m.flags, data: data.toString('hex') };
  }));
}

test('the addon is built (npm install / npm run build:native)', (t) => {
  t.not(loadGenlBatchAddon(), null);
});

test('requestMany through the addon answers each request exactly like request() does', async (t) => {
  const fast = new GenlSocket();
  const slow = new GenlSocket({ nativeBatch: false });
  try {
    const what = (i: number): string => `request ${i}`;
    // Dumps: the whole family list, twice (a multipart answer each, DONE left out).
    const dumps = [getFamily(), getFamily()];
    const fd = await fast.requestMany(GENL_ID_CTRL, dumps, { dump: true, what });
    t.true(fd[0]!.length >= 2, 'several families');
    t.deepEqual(comparable(fd), comparable(await slow.requestMany(GENL_ID_CTRL, dumps, { dump: true, what })));
    // Plain requests: a reply (its ack left out), an error (ENOENT, the NLMSG_ERROR kept), a reply.
    const gets = [getFamily('nlctrl'), getFamily('no-such-family'), getFamily('nlctrl')];
    const fg = await fast.requestMany(GENL_ID_CTRL, gets, { dump: false, what });
    t.deepEqual(fg.map((r) => r.map((m) => m.type)), [[GENL_ID_CTRL], [NLMSG_ERROR], [GENL_ID_CTRL]]);
    t.is(Buffer.from(fg[1]![0]!.data).readInt32LE(0), -2, 'ENOENT');
    t.deepEqual(comparable(fg), comparable(await slow.requestMany(GENL_ID_CTRL, gets, { dump: false, what })));
    t.deepEqual(await fast.requestMany(GENL_ID_CTRL, [], { dump: true, what }), []);
  } finally {
    fast.close();
    slow.close();
  }
});

test('requestMany rejects with a GenlError naming the request when the kernel cannot be asked', async (t) => {
  const s = new GenlSocket();
  // A payload longer than a netlink message can carry: refused before anything is sent.
  const e = await t.throwsAsync(s.requestMany(GENL_ID_CTRL, [getFamily(), new Uint8Array(70_000)], { dump: true, what: (i) => `request ${i}` }));
  t.true(e instanceof GenlError);
  t.regex(e!.message, /^request 0: .*65519 bytes/);
  s.close();
  const c = await t.throwsAsync(s.requestMany(GENL_ID_CTRL, [getFamily()], { dump: true, what: (i) => `request ${i}` }));
  t.true(c instanceof GenlError);
  t.is(c!.message, 'request 0: closed');
});

test('splitBatch: messages back to back, request i ending at ends[i]; a bad length is an EPROTO GenlError', (t) => {
  const msg = (type: number, seq: number, body: number[]): number[] => {
    const len = 16 + body.length;
    const b = Buffer.alloc((len + 3) & ~3);
    b.writeUInt32LE(len, 0);
    b.writeUInt16LE(type, 4);
    b.writeUInt16LE(2, 6);
    b.writeUInt32LE(seq, 8);
    b.writeUInt32LE(77, 12);
    Buffer.from(body).copy(b, 16);
    return [...b];
  };
  const a = msg(30, 1, [1, 2, 3]); // padded to 20 bytes
  const b = msg(30, 1, [4, 5, 6, 7]);
  const c = msg(2, 3, [9, 9, 9, 9]);
  const data = Uint8Array.from([...a, ...b, ...c]);
  const out = splitBatch(data, [a.length + b.length, a.length + b.length, data.length]);
  t.deepEqual(out.map((r) => r.map((m) => [m.type, m.flags, m.seq, m.port, [...m.data]])), [
    [[30, 2, 1, 77, [1, 2, 3]], [30, 2, 1, 77, [4, 5, 6, 7]]],
    [],
    [[2, 2, 3, 77, [9, 9, 9, 9]]],
  ]);
  const e = t.throws(() => splitBatch(data, [10]));
  t.true(e instanceof GenlError);
  t.is((e as GenlError).errno, 'EPROTO');
});
