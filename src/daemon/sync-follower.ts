// The kernel's connection-sync daemons follow VRRP: master of the followed instance (or of every
// member of the followed sync group) runs the master sync daemon, anything else the backup one.
// In a mesh (active-active), both run always, whatever happens to VRRP.
import type { SyncStatus } from '../control/views.js';
import type { TransitionEvent } from '../vrrp/instance.js';
import type { State } from '../vrrp/fsm.js';
import { daemonOps, followsText, wantedDaemons, type SyncPlan } from '../sync/plan.js';
import type { DaemonContext } from './context.js';
import type { IpvsLoop, KernelQueue } from './ipvs-loop.js';

export class SyncFollower {
  private syncStatus: SyncStatus | undefined;

  constructor(private readonly ctx: DaemonContext, private readonly queue: KernelQueue, private readonly ipvs: IpvsLoop,
    private readonly stateOf: (instance: string) => State | undefined) {}

  status(): SyncStatus | undefined { return this.syncStatus ? structuredClone(this.syncStatus) : undefined; }

  /** A transition subscriber. A restart hand-off leaves the kernel's daemons as they are for the next run. */
  onTransition(e: TransitionEvent): void {
    if (e.reason === 'restart' || !this.ctx.cfg.syncDaemon) return;
    // Always queued (deduplicated): the role is read when the change runs, so a transition that
    // lands while an earlier change is in flight is not lost.
    void this.soon();
  }

  /**
   * Bring the kernel's sync daemons to the role (queued with the IPVS reconciles). `role`
   * overrides the computed one (stop() leaves the backup daemon running).
   */
  soon(role?: SyncPlan): Promise<void> {
    if (role !== undefined) return this.queue.run(() => this.apply(role));
    return this.queue.soon('sync', () => this.apply(this.role()));
  }

  /**
   * On a stop: a pair node keeps the backup daemon (the peer is master now); a mesh node keeps
   * both (in-flight flows the routers still send here go on syncing; a restart starts there).
   */
  onStop(): Promise<void> {
    const sd = this.ctx.cfg.syncDaemon;
    return sd ? this.soon(sd.follow.kind === 'mesh' ? 'mesh' : 'backup') : Promise.resolve();
  }

  /** Which sync role the config's followed instance / group says this node has now. */
  private role(): SyncPlan | undefined {
    const sd = this.ctx.cfg.syncDaemon;
    if (!sd) return undefined;
    const f = sd.follow;
    if (f.kind === 'mesh') return 'mesh';
    const members = f.kind === 'instance' ? [f.name] : this.ctx.cfg.vrrp.syncGroups.find((g) => g.name === f.name)?.instances ?? [];
    const master = members.length > 0 && members.every((n) => this.stateOf(n) === 'master');
    return master ? 'master' : 'backup';
  }

  private async apply(role: SyncPlan | undefined): Promise<void> {
    const sd = this.ctx.cfg.syncDaemon;
    if (!sd && !this.syncStatus) return;
    const log = this.ctx.log.child({ mod: 'sync' });
    const follows = sd ? followsText(sd) : '-';
    try {
      const k = await this.ipvs.kernel();
      const have = await k.getDaemons();
      const ops = daemonOps(have, sd && role ? wantedDaemons(sd, role) : undefined);
      for (const op of ops) {
        if (op.op === 'stop') await k.stopDaemon(op.state);
        else await k.startDaemon(op.daemon);
        log.info({ op: op.op, state: op.op === 'stop' ? op.state : op.daemon.state, ...(op.op === 'start' ? { interface: op.daemon.mcastIfn, syncid: op.daemon.syncId } : {}), follows },
          op.op === 'stop' ? 'sync daemon stopped' : 'sync daemon started');
      }
      const daemons = ops.length ? await k.getDaemons() : have;
      this.syncStatus = { role, follows, daemons, error: undefined };
      if (ops.length) this.ctx.emit({ type: 'sync', role: role ?? null, daemons: daemons.map((d) => d.state) });
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.syncStatus = { role, follows, daemons: this.syncStatus?.daemons ?? [], error };
      log.error({ err: error, role }, 'sync daemon change failed');
    }
  }
}
