// The bgp section: VIPs announced by an existing BGP speaker (BIRD 2 by default) while this node
// is healthy, for active-active directors behind the routers' ECMP (docs/active-active.md).
// duet keeps each VIP on `local_dev` (accepted locally at all times) and puts its /32 (/128) into
// the kernel routing table `table` while it should be announced; the speaker learns that table
// and exports it through a filter. Cross-checks against virtual_servers are schema.ts's.

import { z } from 'zod';
import { argv, compact, expecting, ifName, intIn, objectName, seconds, stringOr, unicastIp, ms } from './blocks.js';

const bgpVipSchema = stringOr(
  'address',
  z.strictObject(
    {
      address: unicastIp,
      /** Virtual servers (by name) whose quorum gates the announcement; default: every one with this address. */
      services: z.array(objectName, { error: expecting('a list of virtual server names') }).optional(),
      /** Interfaces that must be up (the uplink, the real servers' side); any down withdraws. */
      track_interfaces: z.array(ifName, { error: expecting('a list of interface names') }).default([]),
    },
    { error: expecting("an address, or {address, services, track_interfaces}") },
  ),
);

const speakerSchema = z
  .strictObject(
    {
      /** Prints the speaker's sessions, e.g. [/usr/sbin/birdc, -s, /run/bird/bird.ctl, show, protocols]. */
      status_command: argv.optional(),
      /** bird: `birdc show protocols`; frr-json: `vtysh -c 'show bgp summary json'`. */
      status_format: z.enum(['bird', 'frr-json']).default('bird'),
      /** How often the sessions are read, and how long one read may take before it is killed. */
      status_interval: seconds(0.1, 3600).default(2),
      status_timeout: seconds(0.05, 60).default(1),
    },
    { error: expecting('a mapping {status_command, status_format, status_interval, status_timeout}') },
  )
  .default({ status_format: 'bird', status_interval: 2, status_timeout: 1 });

export const bgpSchema = z
  .strictObject(
    {
      /** Kernel routing table the speaker exports from (not main or local). */
      table: intIn(1, 4294967295).refine((t) => t !== 253 && t !== 254 && t !== 255, { error: 'must not be a system table (253 default, 254 main, 255 local)' }).default(100),
      /** Where the VIPs live while configured, announced or not (accepted locally for in-flight flows). */
      local_dev: ifName.default('lo'),
      speaker: speakerSchema,
      vips: z.array(bgpVipSchema, { error: expecting('a list of VIPs') }).min(1),
    },
    { error: expecting('a mapping {table, local_dev, speaker, vips}') },
  )
  .optional();

export type RawBgp = NonNullable<z.output<typeof bgpSchema>>;

/** Services left out are every virtual server with the VIP's address (filled by schema.ts). */
export function normalizeBgp(b: RawBgp, servicesOf: (address: string) => string[]) {
  return {
    table: b.table,
    localDev: b.local_dev,
    speaker: compact({
      statusCommand: b.speaker.status_command,
      statusFormat: b.speaker.status_format,
      statusIntervalMs: ms(b.speaker.status_interval),
      statusTimeoutMs: ms(b.speaker.status_timeout),
    }),
    vips: b.vips.map((v) => ({
      address: v.address.address,
      family: v.address.family,
      prefixLen: v.address.family === 4 ? 32 : 128,
      services: v.services ?? servicesOf(v.address.address),
      trackInterfaces: v.track_interfaces,
    })),
  };
}

export type BgpConfig = ReturnType<typeof normalizeBgp>;
