// Desired table vs. a dump of the kernel's → the smallest list of IPVS operations, in an order
// that can be applied one at a time. Pure: the reconciler applies the ops (ipvs/genl-client.ts) and
// logs them; this module only decides.
//
// Identity is the key (model.ts: serviceKey, destKey); attributes decide an edit; stats are not
// in the model. No flush, no delete-and-re-add for an attribute change.
//
// Ownership: every service in `want` is duet's, with its whole destination set (destinations
// in the kernel that `want` does not list are deleted). A service only in `have` is deleted
// when its key is in `managed` (duet put it there earlier, e.g. it was in the previous config)
// and otherwise left exactly as it is, destinations included.

import { BugError } from '../core/errors.js';
import { assertNever } from '../core/result.js';
import { destKey, sameDestAttrs, sameServiceAttrs, serviceKey, type Destination, type Service, type Table } from './model.js';

/**
 * One IPVS write, carrying whole objects so a failure can be reported with the exact object.
 * `svc` is the service the op acts on: the desired one, or for del-svc the one in the kernel
 * (only its identity matters to the kernel for dest ops). `old` is what an edit replaces.
 *
 * - add-svc creates the service with svc's attributes and no destinations; each of svc.dests
 *   follows as its own add-dest.
 * - edit-svc sets scheduler, flags, persistence timeout and netmask; destinations stay.
 * - del-svc deletes the service; the kernel deletes its destinations with it, so there are no
 *   del-dest ops for them.
 */
export type Op =
  | { readonly op: 'add-svc'; readonly svc: Service }
  | { readonly op: 'edit-svc'; readonly svc: Service; readonly old: Service }
  | { readonly op: 'del-svc'; readonly svc: Service }
  | { readonly op: 'add-dest'; readonly svc: Service; readonly dest: Destination }
  | { readonly op: 'edit-dest'; readonly svc: Service; readonly dest: Destination; readonly old: Destination }
  | { readonly op: 'del-dest'; readonly svc: Service; readonly dest: Destination };

export type OpName = Op['op'];

export interface DiffOptions {
  /**
   * Keys of services duet owns beyond those in `want` (typically the keys of the previously
   * applied desired table). A service in `have` but not in `want` is deleted only if listed here.
   */
  readonly managed: ReadonlySet<string>;
}

/**
 * Ops turning `have` into `want` on the services duet owns. Order: for each service of `want`
 * in its order, the service op (add-svc or edit-svc), then add-dest, edit-dest and del-dest
 * (new real servers are in before old ones leave, so a service keeps serving through a
 * replacement); then del-svc for managed services no longer wanted, in `have`'s order.
 * diff(x, x) is empty.
 */
export function diff(want: Table, have: Table, o: DiffOptions): Op[] {
  const ops: Op[] = [];
  for (const [k, w] of want) {
    const h = have.get(k);
    if (!h) {
      ops.push({ op: 'add-svc', svc: w });
      for (const d of w.dests.values()) ops.push({ op: 'add-dest', svc: w, dest: d });
      continue;
    }
    if (!sameServiceAttrs(w, h)) ops.push({ op: 'edit-svc', svc: w, old: h });
    diffDests(w, h, ops);
  }
  for (const [k, h] of have) {
    if (!want.has(k) && o.managed.has(k)) ops.push({ op: 'del-svc', svc: h });
  }
  return ops;
}

function diffDests(w: Service, h: Service, ops: Op[]): void {
  const edits: Op[] = [];
  for (const [dk, d] of w.dests) {
    const old = h.dests.get(dk);
    if (!old) ops.push({ op: 'add-dest', svc: w, dest: d });
    else if (!sameDestAttrs(d, old)) edits.push({ op: 'edit-dest', svc: w, dest: d, old });
  }
  ops.push(...edits);
  for (const [dk, old] of h.dests) {
    if (!w.dests.has(dk)) ops.push({ op: 'del-dest', svc: w, dest: old });
  }
}

/**
 * The table after applying `ops` to `have` in order, as the kernel would (pure; `have` is not
 * changed). An op the kernel would refuse (add of an existing object: EEXIST; edit or delete of
 * a missing one: ENOENT) throws a BugError: diff never produces one.
 */
export function applyOps(have: Table, ops: readonly Op[]): Map<string, Service> {
  const t = new Map<string, Service>(have);
  /** Destination maps already copied from `have`, by service key, mutated in place. */
  const own = new Map<string, Map<string, Destination>>();
  const svcOf = (op: Op, k: string): Service => {
    const s = t.get(k);
    if (!s) throw new BugError(`${op.op} ${k}: no such service`);
    return s;
  };
  for (const op of ops) {
    const k = serviceKey(op.svc);
    switch (op.op) {
      case 'add-svc': {
        if (t.has(k)) throw new BugError(`add-svc ${k}: service exists`);
        const dests = new Map<string, Destination>();
        own.set(k, dests);
        t.set(k, { ...op.svc, dests });
        break;
      }
      case 'edit-svc':
        t.set(k, { ...op.svc, dests: svcOf(op, k).dests });
        break;
      case 'del-svc':
        svcOf(op, k);
        t.delete(k);
        own.delete(k);
        break;
      case 'add-dest':
      case 'edit-dest':
      case 'del-dest': {
        const s = svcOf(op, k);
        let dests = own.get(k);
        if (!dests) {
          dests = new Map(s.dests);
          own.set(k, dests);
          t.set(k, { ...s, dests });
        }
        const dk = destKey(op.dest);
        const exists = dests.has(dk);
        if (op.op === 'add-dest' ? exists : !exists) {
          throw new BugError(`${op.op} ${k} ${dk}: ${exists ? 'destination exists' : 'no such destination'}`);
        }
        if (op.op === 'del-dest') dests.delete(dk);
        else dests.set(dk, op.dest);
        break;
      }
      default:
        assertNever(op, 'op');
    }
  }
  return t;
}
