// The sync_daemon section (keepalived: lvs_sync_daemon) and its normalized form, the sync
// core's SyncDaemonConfig. Which instance or group it follows is checked in schema.ts.
// mode: mesh (active-active directors) follows no VRRP role: every node runs both daemons.

import { z } from 'zod';
import { canonicalAddr, parseIpv4 } from '../core/addr.js';
import type { SyncDaemonConfig } from '../sync/plan.js';
import { compact, expecting, ifName, intIn, objectName } from './blocks.js';
import { show } from './messages.js';

/** A multicast group address, canonical text. */
const multicastGroup = z.string().transform((t, ctx) => {
  const v4 = parseIpv4(t);
  if (v4 && v4[0]! >= 224 && v4[0]! <= 239) return canonicalAddr(4, t) ?? t;
  const v6 = canonicalAddr(6, t);
  if (!v4 && v6 && v6.startsWith('ff')) return v6;
  ctx.issues.push({ code: 'custom', message: `expected a multicast address (224.0.0.0/4 or ff00::/8), got ${show(t)}`, input: t });
  return z.NEVER;
});

/** keepalived's lvs_sync_daemon: IPVS connection sync that follows a VRRP instance or sync group, or a mesh. */
export const syncDaemonSchema = z
  .strictObject(
    {
      interface: ifName,
      /** vrrp (default): the daemons follow instance or sync_group; mesh: master and backup daemons on every node, always. */
      mode: z.enum(['vrrp', 'mesh']).default('vrrp'),
      /** The VRRP instance whose master runs the master daemon (or sync_group). */
      instance: objectName.optional(),
      sync_group: objectName.optional(),
      /** 0..255, the same on both nodes. keepalived: id. Default 0. */
      syncid: intIn(0, 255).default(0),
      /** UDP payload bytes of a sync message. keepalived: maxlen */
      max_packet_len: intIn(576 - 28, 65535 - 28).optional(),
      mcast_group: multicastGroup.optional(),
      mcast_port: intIn(1, 65535).optional(),
      mcast_ttl: intIn(1, 255).optional(),
    },
    { error: expecting('a mapping {interface, instance, syncid, ...}') },
  )
  .superRefine((d, ctx) => {
    if (d.mode === 'mesh') {
      for (const k of ['instance', 'sync_group'] as const) {
        if (d[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'mode mesh follows no VRRP role (every node runs both daemons): remove it' });
      }
    } else if ((d.instance === undefined) === (d.sync_group === undefined)) {
      ctx.addIssue({ code: 'custom', path: d.instance === undefined ? [] : ['sync_group'], message: 'needs exactly one of instance or sync_group (which VRRP role it follows)' });
    }
  })
  .optional();

export function normalizeSync(d: NonNullable<z.output<typeof syncDaemonSchema>>): SyncDaemonConfig {
  return compact({
    interface: d.interface,
    syncId: d.syncid,
    maxLen: d.max_packet_len,
    mcastGroup: d.mcast_group,
    mcastPort: d.mcast_port,
    mcastTtl: d.mcast_ttl,
    follow: d.mode === 'mesh' ? { kind: 'mesh' as const }
      : d.instance !== undefined ? { kind: 'instance' as const, name: d.instance } : { kind: 'group' as const, name: d.sync_group ?? '' },
  });
}
