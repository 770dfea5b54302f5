// An in-memory IPVS kernel: each call applied with the pure applyOps; counts writes, can be
// told to fail an operation; sync daemons and timeouts kept as plain state.
import { applyOps, type Op } from '../../src/ipvs/diff.js';
import { destKey, serviceKey, type Service, type Table, type Destination, type TableStats } from '../../src/ipvs/model.js';
import type { IpvsHandle } from '../../src/daemon/platform.js';
import type { KernelDaemon, SyncDaemonSettings } from '../../src/sync/plan.js';

export class MemKernel implements IpvsHandle {
  table: Table = new Map();
  stats: TableStats | undefined;
  writes = 0;
  failOn: ((op: Op) => string | undefined) | undefined;
  daemons: KernelDaemon[] = [];
  daemonOps: string[] = [];
  timeouts = { tcp: 900, tcpFin: 120, udp: 300 };
  /**
   * Destination writes change this.table in place (O(1) each) instead of making a new table (which
   * copies the service's destinations: quadratic at thousands of servers). For benchmarks; tests
   * keep the default, so a table they held on to stays as it was.
   */
  inPlace = false;
  private do(op: Op): Promise<void> {
    this.writes++;
    const e = this.failOn?.(op);
    if (e) return Promise.reject(new Error(e));
    const dests = this.inPlace && op.op.endsWith('-dest') ? this.table.get(serviceKey(op.svc))?.dests : undefined;
    if (dests instanceof Map && 'dest' in op) {
      if (op.op === 'del-dest') dests.delete(destKey(op.dest));
      else dests.set(destKey(op.dest), op.dest);
    } else this.table = applyOps(this.table, [op]);
    return Promise.resolve();
  }
  async dump(o?: { stats?: boolean }) { return { table: this.table, ...(o?.stats && this.stats ? { stats: this.stats } : {}) }; }
  addService(svc: Service) { return this.do({ op: 'add-svc', svc }); }
  editService(svc: Service) { return this.do({ op: 'edit-svc', svc, old: this.table.get(serviceKey(svc))! }); }
  delService(svc: Service) { return this.do({ op: 'del-svc', svc }); }
  addDest(svc: Service, dest: Destination) { return this.do({ op: 'add-dest', svc, dest }); }
  editDest(svc: Service, dest: Destination) { return this.do({ op: 'edit-dest', svc, dest, old: dest }); }
  delDest(svc: Service, dest: Destination) { return this.do({ op: 'del-dest', svc, dest }); }
  async getDaemons() { return this.daemons.map((d) => ({ ...d })); }
  async startDaemon(d: SyncDaemonSettings) {
    this.daemonOps.push(`start ${d.state}`);
    // The kernel fills in what the request left out.
    this.daemons.push({ syncMaxlen: 1472, mcastGroup: '224.0.0.81', mcastPort: 8848, mcastTtl: 1, ...d });
  }
  async stopDaemon(state: 'master' | 'backup') {
    this.daemonOps.push(`stop ${state}`);
    this.daemons = this.daemons.filter((d) => d.state !== state);
  }
  async getTimeouts() { return { ...this.timeouts }; }
  async setTimeouts(t: { tcp: number; tcpFin: number; udp: number }) {
    this.writes++;
    this.timeouts = { tcp: t.tcp || this.timeouts.tcp, tcpFin: t.tcpFin || this.timeouts.tcpFin, udp: t.udp || this.timeouts.udp };
  }
}
