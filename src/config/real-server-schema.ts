// The real servers of a virtual server (keepalived: real_server ADDR PORT { ... }): forwarding
// method (lb_kind), thresholds, tunnel encapsulation; and a sorry server resolved as one.

import { z } from 'zod';
import type { Family } from '../core/addr.js';
import type { Forward, TunnelCsum, TunnelType } from '../ipvs/model.js';
import type { CheckConfig } from '../check/types.js';
import { compact, expecting, intIn, unicastIp } from './blocks.js';
import { checksSchema, type sorryServerSchema } from './checks-schema.js';

/** keepalived lb_kind → IPVS forwarding method. */
export const LB_KINDS = { nat: 'masq', dr: 'route', tun: 'tunnel' } as const satisfies Record<string, Forward>;
export type LbKind = keyof typeof LB_KINDS;
export const lbKind = z.enum(['nat', 'dr', 'tun'], {
  error: (iss) => (iss.input === undefined ? 'missing required field' : undefined),
});

export const tunnelSchema = z
  .strictObject(
    {
      type: z.enum(['ipip', 'gue', 'gre']).default('ipip'),
      /** GUE destination port; gue only, and required there. */
      port: intIn(1, 65535).optional(),
      csum: z.enum(['nocsum', 'csum', 'remcsum']).default('nocsum'),
    },
    { error: expecting('a mapping {type, port, csum}') },
  )
  .superRefine((t, ctx) => {
    const at = (path: (string | number)[], message: string): void => {
      ctx.addIssue({ code: 'custom', path, message });
    };
    if (t.type === 'gue' && t.port === undefined) at(['port'], 'missing required field (the GUE destination port)');
    if (t.type !== 'gue' && t.port !== undefined) at(['port'], 'only valid with type: gue');
    if (t.type === 'ipip' && t.csum !== 'nocsum') at(['csum'], 'only valid with type: gue or gre (ipip has no checksum option)');
    if (t.type === 'gre' && t.csum === 'remcsum') at(['csum'], 'remcsum is only valid with type: gue');
  });

export interface TunnelConfig {
  type: TunnelType;
  /** 0 unless gue. */
  port: number;
  csum: TunnelCsum;
}

export const normalizeTunnel = (t: z.output<typeof tunnelSchema> | undefined): TunnelConfig =>
  ({ type: t?.type ?? 'ipip', port: t?.port ?? 0, csum: t?.csum ?? 'nocsum' });

export const realServerSchema = z
  .strictObject(
    {
      address: unicastIp,
      /** Default: the virtual server's port (0 for fwmark: the packet's own port). */
      port: intIn(0, 65535).optional(),
      /** 0 = quiescent. keepalived: weight */
      weight: intIn(0, 65535).default(1),
      /** keepalived: uthreshold; ipvsadm -x. 0 = no limit. */
      upper_threshold: intIn(0, 65535).default(0),
      /** keepalived: lthreshold; ipvsadm -y. */
      lower_threshold: intIn(0, 65535).default(0),
      /** Overrides the virtual server's lb_kind for this server (keepalived: lvs_method). */
      lb_kind: lbKind.optional(),
      tunnel: tunnelSchema.optional(),
      /** Replaces the virtual server's checks for this server ([] = none). */
      checks: checksSchema.optional(),
      /** Keep a failed server at weight 0 instead of removing it (its connections drain). */
      inhibit_on_failure: z.boolean().optional(),
    },
    { error: expecting('a mapping {address, port, weight, ...}') },
  )
  .superRefine((r, ctx) => {
    // The kernel refuses l_threshold > u_threshold (ERANGE), also when upper is 0 (no limit).
    if (r.lower_threshold > r.upper_threshold) {
      ctx.addIssue({
        code: 'custom',
        path: ['lower_threshold'],
        message: `must not exceed upper_threshold (${r.upper_threshold}), got ${r.lower_threshold}`,
      });
    }
  });

/** A sorry server as a real server: the virtual server's tunnel, and its lb_kind and port unless the sorry server has its own. */
export function sorryServer(s: z.output<typeof sorryServerSchema>, vsKind: LbKind, vsTunnel: z.output<typeof tunnelSchema> | undefined, vsPort: number): RealServerConfig {
  const kind: LbKind = s.lb_kind ?? vsKind;
  return compact({
    address: s.address.address,
    family: s.address.family,
    port: s.port ?? vsPort,
    forward: LB_KINDS[kind],
    weight: s.weight,
    upperThreshold: 0,
    lowerThreshold: 0,
    tunnel: kind === 'tun' ? normalizeTunnel(vsTunnel) : undefined,
    checks: [],
    inhibitOnFailure: false,
  });
}

/** Each real server with everything resolved: port defaulted, lb_kind as the forwarding method. */
export interface RealServerConfig {
  address: string;
  family: Family;
  port: number;
  forward: Extract<Forward, 'masq' | 'route' | 'tunnel'>;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
  /** Present exactly when forward is 'tunnel'. */
  tunnel?: TunnelConfig;
  /** All must pass; none = always healthy. */
  checks: CheckConfig[];
  inhibitOnFailure: boolean;
}
