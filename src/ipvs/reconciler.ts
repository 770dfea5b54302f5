// Desired state -> kernel: dump, diff, apply the smallest set of operations, one at a time.
// Never a flush. A failed operation is retried once and then reported with the exact object;
// the next reconcile starts from a fresh dump, so nothing is left half-applied unnoticed.
import type { Destination, Service, Table, TableStats } from './model.js';
import { serviceKey, destKey } from './model.js';
import { diff, type Op } from './diff.js';

/** What the reconciler needs from an IPVS client (genl-client implements it). */
export interface IpvsKernel {
  /** `{ stats: false }`: the reconciler needs the table only; an implementation may skip counters. */
  dump(o?: { stats?: boolean }): Promise<{ table: Table; stats?: TableStats }>;
  addService(s: Service): Promise<void>;
  editService(s: Service): Promise<void>;
  delService(s: Service): Promise<void>;
  addDest(s: Service, d: Destination): Promise<void>;
  editDest(s: Service, d: Destination): Promise<void>;
  delDest(s: Service, d: Destination): Promise<void>;
}

export interface OpFailure {
  op: Op;
  /** "add-dest 192.0.2.21:80 to tcp:192.0.2.100:80" */
  what: string;
  error: string;
}

export interface ReconcileResult {
  ops: Op[];
  applied: number;
  failed: OpFailure[];
  /** Keys duet manages after this run: what it wanted, plus what it failed to delete. */
  managed: Set<string>;
}

export function describeOp(op: Op): string {
  switch (op.op) {
    case 'add-svc': case 'edit-svc': return `${op.op} ${serviceKey(op.svc)}`;
    case 'del-svc': return `del-svc ${serviceKey(op.svc)}`;
    case 'add-dest': case 'edit-dest': case 'del-dest': return `${op.op} ${destKey(op.dest)} ${op.op === 'add-dest' ? 'to' : 'of'} ${serviceKey(op.svc)}`;
  }
}

async function applyOne(k: IpvsKernel, op: Op): Promise<void> {
  switch (op.op) {
    case 'add-svc': return k.addService(op.svc);
    case 'edit-svc': return k.editService(op.svc);
    case 'del-svc': return k.delService(op.svc);
    case 'add-dest': return k.addDest(op.svc, op.dest);
    case 'edit-dest': return k.editDest(op.svc, op.dest);
    case 'del-dest': return k.delDest(op.svc, op.dest);
  }
}

/**
 * Bring the kernel to `want` for the services duet manages. `managed` holds the keys duet
 * applied before (so a service removed from the config is deleted, and others' are left alone).
 */
export async function reconcile(k: IpvsKernel, want: Table, managed: ReadonlySet<string>): Promise<ReconcileResult> {
  const { table: have } = await k.dump({ stats: false });
  const ops = diff(want, have, { managed });
  const failed: OpFailure[] = [];
  let applied = 0;
  const skipSvc = new Set<string>();
  for (const op of ops) {
    const svcKey = serviceKey(op.svc);
    // Destinations of a service we could not create would only fail again, noisily.
    if (skipSvc.has(svcKey)) continue;
    try {
      await retryOnce(() => applyOne(k, op));
      applied++;
    } catch (e) {
      failed.push({ op, what: describeOp(op), error: e instanceof Error ? e.message : String(e) });
      if (op.op === 'add-svc') skipSvc.add(svcKey);
    }
  }
  const next = new Set(want.keys());
  for (const f of failed) if (f.op.op === 'del-svc') next.add(serviceKey(f.op.svc));
  return { ops, applied, failed, managed: next };
}

async function retryOnce(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch {
    await fn();
  }
}
