// The vrrp section: track scripts, VRRP instances (VIPs, authentication, unicast, tracking,
// notify hooks, gratuitous ARP) and sync groups. Checks within one instance are its
// superRefine(); checks across instances are schema.ts's cross-section checks.

import { z } from 'zod';
import type { Family } from '../core/addr.js';
import { argv, compact, expecting, familyName, ifName, intIn, ipPrefix, ms, objectName, seconds, stringOr, unicastIp } from './blocks.js';
import { show } from './messages.js';
import { isAbsolute } from 'node:path';
import type { AuthKey } from '../vrrp/udp-auth.js';

const notifyFields = {
  master: argv.optional(),
  backup: argv.optional(),
  fault: argv.optional(),
  stop: argv.optional(),
  /** keepalived's plain `notify`: runs on every transition. */
  any: argv.optional(),
};
// Output: a list of commands per hook (the YAML form gives one), so hooks can be combined later.
const one = (c: string[] | undefined): string[][] | undefined => (c === undefined ? undefined : [c]);

/** A sync group's hooks. */
const notifySchema = z
  .strictObject(notifyFields, { error: expecting('a mapping of state to command') })
  .default({})
  .transform((n) => compact({ master: one(n.master), backup: one(n.backup), fault: one(n.fault), stop: one(n.stop), any: one(n.any) }));

/** An instance's hooks: the states, and dual_master (not in keepalived). */
const instanceNotifySchema = z
  .strictObject({
    ...notifyFields,
    /**
     * Another router keeps advertising as master while this one is (env DUET_VIA=advert,
     * DUET_OTHER, DUET_OTHER_PRIORITY), or another MAC sends ARP with one of its IPv4 VIPs as
     * sender (DUET_VIA=arp, DUET_OTHER the MAC, DUET_ADDRESS).
     */
    dual_master: argv.optional(),
  }, { error: expecting('a mapping of state (or dual_master) to command') })
  .default({})
  .transform((n) => compact({ master: one(n.master), backup: one(n.backup), fault: one(n.fault), stop: one(n.stop), any: one(n.any), dual_master: one(n.dual_master) }));

const trackScriptSchema = z.strictObject(
  {
    command: argv,
    interval: seconds(0.01, 86400).default(1),
    timeout: seconds(0.01, 86400).optional(),
    weight: intIn(-254, 254).default(0),
    rise: intIn(1, 1000).default(1),
    fall: intIn(1, 1000).default(1),
    /** Skip script security for this script (scripts.security); it is still run as scripts.user. */
    insecure: z.boolean().default(false),
  },
  { error: expecting('a mapping') },
);

const authSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('none') }),
    z.strictObject({
      type: z.literal('pass'),
      // RFC 3768 §5.3.10: 8 octets of authentication data.
      password: z.string().refine((s) => {
        const n = new TextEncoder().encode(s).length;
        return n >= 1 && n <= 8;
      }, { error: (iss) => `must be 1..8 bytes, got ${new TextEncoder().encode(String(iss.input)).length}` }),
    }),
  ],
  { error: expecting('a mapping {type, password}') },
);

const vipSchema = stringOr(
  'address',
  z.strictObject(
    { address: ipPrefix, dev: ifName.optional(), label: z.string().min(1).max(15).optional() },
    { error: expecting("an address 'ADDR/PREFIX' or {address, dev, label}") },
  ),
).transform((v) =>
  compact({
    address: v.address.address,
    prefixLen: v.address.prefixLen,
    family: v.address.family,
    dev: v.dev,
    label: v.label,
  }),
);

const trackInterfaceSchema = stringOr(
  'name',
  z.strictObject(
    { name: ifName, weight: intIn(-254, 254).default(0) },
    { error: expecting('an interface name or {name, weight}') },
  ),
);

const trackScriptRefSchema = stringOr(
  'name',
  z.strictObject(
    { name: objectName, weight: intIn(-254, 254).optional() },
    { error: expecting('a script name or {name, weight}') },
  ),
);

const garpSchema = z
  .strictObject(
    {
      master_delay: seconds(0, 3600).default(5),
      master_repeat: intIn(1, 100).default(5),
      master_refresh: seconds(0, 86400).default(0),
      /** Milliseconds between the packets of one burst. */
      interval: intIn(0, 1000).default(0),
      /**
       * keepalived's garp_lower_prio_repeat / garp_lower_prio_delay: a master that hears a
       * lower-priority advert sends its own at once and a burst of this many (0: none), and a
       * second burst after the delay. Defaults: master_repeat and master_delay, as keepalived.
       */
      lower_prio_repeat: intIn(0, 100).optional(),
      lower_prio_delay: seconds(0, 3600).optional(),
    },
    { error: expecting('a mapping') },
  )
  .prefault({});

/**
 * Not in keepalived: addresses this node must reach (ICMP echo, IPv4) to take or keep
 * mastership, typically the default gateway. Reachable when any answers; a node that reaches
 * none is in FAULT (reason witness), so the side of a partition cut off from the network does
 * not claim the VIP.
 */
const witnessSchema = z
  .strictObject(
    {
      targets: z.array(unicastIp, { error: expecting('a list of IPv4 addresses') }).min(1),
      interval: seconds(0.05, 60).default(1),
      /** Default: half the interval. */
      timeout: seconds(0.01, 60).optional(),
      rise: intIn(1, 100).default(1),
      fall: intIn(1, 100).default(3),
    },
    { error: expecting('a mapping {targets, interval, timeout, rise, fall}') },
  )
  .superRefine((w, ctx) => {
    w.targets.forEach((t, n) => { if (t.family !== 4) ctx.addIssue({ code: 'custom', path: ['targets', n], message: 'must be an IPv4 address (the witness probes with ICMP echo over IPv4)' }); });
    if (w.timeout !== undefined && w.timeout > w.interval) ctx.addIssue({ code: 'custom', path: ['timeout'], message: `${w.timeout} s is longer than interval (${w.interval} s)` });
  })
  .optional();

/** Not in keepalived: HMAC-SHA256 over UDP adverts, keys in a root-only file (see docs/security-udp-auth.md). */
const udpAuthSchema = z.strictObject(
  {
    key_file: z.string().refine((f) => isAbsolute(f), { error: (iss) => `must be an absolute path, got ${show(iss.input)}` }),
  },
  { error: expecting('a mapping {key_file}') },
);

// ---------------------------------------------------------------------------------------------
// VRRP instance

const instanceSchema = z
  .strictObject(
    {
      name: objectName,
      interface: ifName,
      vrid: intIn(1, 255),
      /** 255 = address owner (RFC 5798 §5.2.4). */
      priority: intIn(1, 255).default(100),
      version: z.literal([2, 3]).default(3),
      advert_int: z.number().default(1),
      preempt: z.boolean().default(true),
      preempt_delay: seconds(0, 1000).default(0),
      auth: authSchema.optional(),
      virtual_ipaddress: z.array(vipSchema, { error: expecting('a list of addresses') }).min(1),
      unicast_src_ip: unicastIp.optional(),
      unicast_peer: z.array(unicastIp, { error: expecting('a list of addresses') }).min(1).optional(),
      transport: z.enum(['raw', 'udp']).default('raw'),
      udp_port: intIn(1, 65535).optional(),
      /** HMAC-SHA256 on every advert (transport udp only); the key file is read by load.ts. */
      udp_auth: udpAuthSchema.optional(),
      /** Unicast only: accept adverts whose TTL / hop limit is in min_ttl..max_ttl instead of only 255. */
      min_ttl: intIn(0, 255).optional(),
      max_ttl: intIn(0, 255).optional(),
      checksum_pseudo_header: z.boolean().optional(),
      address_list: z.enum(['strict', 'lenient']).default('strict'),
      track_interface: z.array(trackInterfaceSchema, { error: expecting('a list') }).default([]),
      track_script: z.array(trackScriptRefSchema, { error: expecting('a list') }).default([]),
      notify: instanceNotifySchema,
      garp: garpSchema,
      witness: witnessSchema,
    },
    { error: expecting('a mapping') },
  )
  .superRefine((i, ctx) => {
    const at = (path: (string | number)[], message: string): void => {
      ctx.addIssue({ code: 'custom', path, message });
    };

    if (i.auth !== undefined && i.version !== 2) {
      at(['auth'], 'only valid with version 2 (VRRPv3 has no authentication)');
    }

    // RFC 3768 §5.3.7: whole seconds in 8 bits. RFC 5798 §5.2.7: 12 bits of centiseconds.
    const ai = i.advert_int;
    if (i.version === 2 && !(Number.isInteger(ai) && ai >= 1 && ai <= 255)) {
      at(['advert_int'], `must be whole seconds 1..255 for version 2, got ${show(ai)}`);
    }
    if (i.version === 3 && !(ai >= 0.01 && ai <= 40.95 && Math.abs(ai * 100 - Math.round(ai * 100)) < 1e-6)) {
      at(['advert_int'], `must be 0.01..40.95 seconds in 0.01 steps for version 3, got ${show(ai)}`);
    }

    const first = i.virtual_ipaddress[0];
    const family = first?.family ?? 4;
    const seen = new Map<string, number>();
    i.virtual_ipaddress.forEach((v, n) => {
      if (v.family !== family) {
        at(['virtual_ipaddress', n], `${familyName(v.family)} address in an ${familyName(family)} instance (one family per instance; the first VIP decides)`);
      }
      const prev = seen.get(v.address);
      if (prev !== undefined) at(['virtual_ipaddress', n], `duplicate of virtual_ipaddress[${prev}] (${v.address})`);
      else seen.set(v.address, n);
      const dev = v.dev ?? i.interface;
      if (v.label !== undefined && !v.label.startsWith(`${dev}:`)) {
        at(['virtual_ipaddress', n, 'label'], `must start with '${dev}:' (the device name), got ${show(v.label)}`);
      }
    });
    if (i.version === 2 && family === 6) {
      at(['version'], 'VRRP version 2 is IPv4 only; use version 3 for IPv6');
    }

    if (i.unicast_src_ip !== undefined && i.unicast_src_ip.family !== family) {
      at(['unicast_src_ip'], `is ${familyName(i.unicast_src_ip.family)} but the instance is ${familyName(family)}`);
    }
    const peers = new Map<string, number>();
    i.unicast_peer?.forEach((p, n) => {
      if (p.family !== family) at(['unicast_peer', n], `is ${familyName(p.family)} but the instance is ${familyName(family)}`);
      const prev = peers.get(p.address);
      if (prev !== undefined) at(['unicast_peer', n], `duplicate of unicast_peer[${prev}] (${p.address})`);
      else peers.set(p.address, n);
      if (p.address === i.unicast_src_ip?.address) at(['unicast_peer', n], 'is this node\'s own unicast_src_ip');
    });

    if (i.udp_port !== undefined && i.transport !== 'udp') {
      at(['udp_port'], 'only valid with transport: udp');
    }
    if (i.udp_auth !== undefined && i.transport !== 'udp') {
      at(['udp_auth'], 'only valid with transport: udp (raw VRRP must stay wire-compatible: use auth: pass with version 2, which is cleartext)');
    }
    for (const f of ['min_ttl', 'max_ttl'] as const) {
      if (i[f] === undefined) continue;
      if (!i.unicast_peer) at([f], 'only valid with unicast_peer (multicast adverts must have TTL 255)');
      else if (i.transport === 'udp') at([f], 'not available with transport: udp (a UDP socket cannot see the TTL); use udp_auth to authenticate the peer instead');
    }
    if (i.min_ttl !== undefined && i.max_ttl !== undefined && i.min_ttl > i.max_ttl) {
      at(['max_ttl'], `${i.max_ttl} is below min_ttl (${i.min_ttl})`);
    }
    if (i.checksum_pseudo_header !== undefined) {
      if (i.version !== 3) at(['checksum_pseudo_header'], 'only applies to version 3');
      else if (family === 6 && !i.checksum_pseudo_header) {
        at(['checksum_pseudo_header'], 'IPv6 always checksums the pseudo-header; cannot be false');
      }
    }

    const dupNames = (list: readonly { name: string }[], field: string): void => {
      const names = new Map<string, number>();
      list.forEach((t, n) => {
        const prev = names.get(t.name);
        if (prev !== undefined) at([field, n], `'${t.name}' is already listed at ${field}[${prev}]`);
        else names.set(t.name, n);
      });
    };
    dupNames(i.track_interface, 'track_interface');
    dupNames(i.track_script, 'track_script');
  });

type RawInstance = z.output<typeof instanceSchema>;

export function normalizeInstance(i: RawInstance, scriptWeight: ReadonlyMap<string, number>) {
  const family: Family = i.virtual_ipaddress[0]?.family ?? 4;
  return compact({
    name: i.name,
    interface: i.interface,
    vrid: i.vrid,
    priority: i.priority,
    version: i.version,
    /** Centiseconds, as on the wire (v2's whole seconds are 100s of them). */
    adverIntCs: Math.round(i.advert_int * 100),
    preempt: i.preempt,
    preemptDelayMs: ms(i.preempt_delay),
    auth: compact({ type: i.auth?.type ?? 'none', password: i.auth?.type === 'pass' ? i.auth.password : undefined }),
    vips: i.virtual_ipaddress,
    family,
    unicastSrcIp: i.unicast_src_ip?.address,
    /** Empty: multicast adverts (224.0.0.18 / ff02::12). */
    unicastPeers: (i.unicast_peer ?? []).map((p) => p.address),
    transport: i.transport,
    udpPort: i.udp_port ?? 1112,
    /** keys: filled in by loadConfig from keyFile (first signs, all verify); never logged. */
    udpAuth: i.udp_auth === undefined ? undefined : { keyFile: i.udp_auth.key_file, keys: [] as AuthKey[] },
    /** Unicast, raw: the accepted TTL range (undefined: 255 only). */
    ttlRange: i.min_ttl === undefined && i.max_ttl === undefined ? undefined : { min: i.min_ttl ?? 0, max: i.max_ttl ?? 255 },
    /** v3 over IPv4 only; RFC 5798 says true, old keepalived peers want false. v2: false, v3 IPv6: true. */
    checksumPseudoHeader: i.version === 2 ? false : family === 6 ? true : (i.checksum_pseudo_header ?? true),
    /** strict: drop adverts whose address list differs from ours; lenient: the RFCs' rule. */
    addressList: i.address_list,
    trackInterfaces: i.track_interface.map((t) => ({ name: t.name, weight: t.weight })),
    trackScripts: i.track_script.map((t) => ({ name: t.name, weight: t.weight ?? scriptWeight.get(t.name) ?? 0 })),
    notify: i.notify,
    witness: i.witness === undefined ? undefined : {
      targets: i.witness.targets.map((t) => t.address), intervalMs: ms(i.witness.interval),
      timeoutMs: ms(i.witness.timeout ?? i.witness.interval / 2), rise: i.witness.rise, fall: i.witness.fall,
    },
    garp: {
      masterDelayMs: ms(i.garp.master_delay),
      masterRepeat: i.garp.master_repeat,
      masterRefreshMs: ms(i.garp.master_refresh),
      intervalMs: i.garp.interval,
      lowerPrioRepeat: i.garp.lower_prio_repeat ?? i.garp.master_repeat,
      lowerPrioDelayMs: ms(i.garp.lower_prio_delay ?? i.garp.master_delay),
    },
  });
}

const syncGroupSchema = z.strictObject(
  {
    name: objectName,
    instances: z.array(objectName, { error: expecting('a list of instance names') }).min(1),
    notify: notifySchema,
  },
  { error: expecting('a mapping') },
);

export const vrrpSchema = z.strictObject(
  {
    scripts: z.record(objectName, trackScriptSchema, { error: expecting('a mapping of name to script') }).default({}),
    /** Empty only with a bgp section (schema.ts checks it). */
    instances: z.array(instanceSchema, { error: expecting('a list of instances') }),
    sync_groups: z.array(syncGroupSchema, { error: expecting('a list of groups') }).default([]),
  },
  { error: expecting('a mapping') },
);

export type VipConfig = z.output<typeof vipSchema>;
