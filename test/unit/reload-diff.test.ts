// A reload's virtual-server diff (daemon.ts diffByName): what changed, found a slice of real
// servers per turn of the loop, so a 10,000-server config does not hold the main thread.
import test from 'ava';
import { diffByName } from '../../src/daemon/daemon.js';
import { parseConfig } from '../../src/config/load.js';
import type { VirtualServerConfig } from '../../src/config/schema.js';

function services(n: number, o: { lastWeight?: number; scheduler?: string } = {}): VirtualServerConfig[] {
  const rs = Array.from({ length: n }, (_, i) => `      - { address: 10.0.${i >> 8}.${i & 255}${i === n - 1 && o.lastWeight ? `, weight: ${o.lastWeight}` : ''} }`).join('\n');
  const r = parseConfig(`vrrp:
  instances:
    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }
virtual_servers:
  - name: big
    address: 192.0.2.100
    port: 80
    scheduler: ${o.scheduler ?? 'wrr'}
    lb_kind: dr
    real_servers:
${rs}
  - { name: small, address: 192.0.2.100, port: 443, lb_kind: dr, real_servers: [{ address: 10.1.0.1 }] }
`, 'diff.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.error.slice(0, 2)));
  return r.value.virtualServers;
}

test('unchanged, changed in the last real server, changed outside the real servers, added and removed', async (t) => {
  let turns = 0;
  const turn = async (): Promise<void> => { turns++; };
  const a = services(1200);
  t.deepEqual(await diffByName(a, services(1200), turn), { added: [], removed: [], changed: [], unchanged: ['big', 'small'] });
  t.is(turns, 2, '1,201 real servers compared, 500 per turn');
  turns = 0;
  t.deepEqual((await diffByName(a, services(1200, { lastWeight: 3 }), turn)).changed, ['big']);
  t.is(turns, 2, 'found at the last one');
  turns = 0;
  t.deepEqual((await diffByName(a, services(1200, { scheduler: 'rr' }), turn)).changed, ['big']);
  t.is(turns, 0, 'a changed scheduler needs no real server compared');
  t.deepEqual((await diffByName(a, services(1199), turn)).changed, ['big']);
  t.deepEqual(await diffByName(a.slice(0, 1), a.slice(1), turn), { added: ['small'], removed: ['big'], changed: [], unchanged: [] });
});
