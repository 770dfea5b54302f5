// The IPVS client replaces its generic-netlink socket after a request that got no answer
// (time-out, socket error), and only then: a kernel refusal is an answer. Fake sockets here; the
// real socket against the kernel's IPVS is exercised by the VM tier.
import test from 'ava';
import { IpvsClient } from '../../src/ipvs/genl-client.js';
import { GenlError, type GenlSocket, type GenlRaw } from '../../src/netlink/genl.js';

/** A socket whose requests are answered by `answer` (or rejected when it throws). */
interface FakeSocket { closed: boolean; close(): void }

function fakeSocket(answer: () => GenlRaw[]): FakeSocket {
  const s = {
    closed: false,
    async request() { return answer(); },
    async requestMany(_f: number, payloads: readonly Uint8Array[]) { return payloads.map(() => answer()); },
    async resolveFamily() { return 30; },
    close() { s.closed = true; },
  };
  return s;
}

/** NLMSG_ERROR with errno (negative in the message), the original header after it. */
const kernelError = (errno: number): GenlRaw => {
  const data = new Uint8Array(20);
  new DataView(data.buffer).setInt32(0, -errno, true);
  new DataView(data.buffer).setUint32(4, 16, true); // the echoed request header's length
  return { type: 2, flags: 0, seq: 1, port: 0, data };
};

test('a request with no answer fails; the next request goes out on a new socket and works', async (t) => {
  const made: FakeSocket[] = [];
  let fail = true;
  const c = IpvsClient.withSockets(() => {
    const s = fakeSocket(() => { if (fail) { fail = false; throw new GenlError('get services: ETIMEDOUT', 'ETIMEDOUT'); } return []; });
    made.push(s);
    return s as unknown as GenlSocket;
  }, 30);
  await t.throwsAsync(c.dump(), { message: /ETIMEDOUT/ });
  t.is(c.reopens, 0);
  const d = await c.dump();
  t.is(d.table.size, 0);
  t.is(c.reopens, 1);
  t.is(made.length, 2);
  t.true(made[0]!.closed, 'the failed socket is closed');
  t.false(made[1]!.closed);
});

test('a kernel refusal (NLMSG_ERROR) is an answer: the socket is kept', async (t) => {
  let made = 0;
  const c = IpvsClient.withSockets(() => { made++; return fakeSocket(() => [kernelError(22)]) as unknown as GenlSocket; }, 30);
  await t.throwsAsync(c.dump(), { message: /EINVAL/ });
  await t.throwsAsync(c.dump(), { message: /EINVAL/ });
  t.is(c.reopens, 0);
  t.is(made, 1);
});
