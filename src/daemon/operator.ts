// Operator overrides of VRRP: manual failover, takeover and maintenance. Pure.
//
// Handover never leaves the VIP without an owner: instead of resigning (priority 0), a node that
// fails over advertises priority 1, so a healthy peer's Master_Down_Timer runs out and it takes
// over, and only its first advert makes this node backup. If no peer takes over, nothing moved.
// Takeover is the mirror image: priority 254 with preemption on, so this backup takes over when
// the master's lower-priority adverts stop holding it back.
import type { InstanceSettings } from '../vrrp/instance.js';
import type { Override } from '../control/views.js';

export type { OperatorMode, Override } from '../control/views.js';

/** The settings an instance runs with under an override. */
export function withOverride(s: InstanceSettings, o: Override | undefined): InstanceSettings {
  if (!o || s.priority === 255) return s;
  if (o.mode === 'takeover') return { ...s, priority: 254, preempt: true, preemptDelayMs: 0 };
  return { ...s, priority: 1 };
}

/** Why an instance cannot do this handover now, or undefined. */
export function refusal(mode: 'failover' | 'takeover', st: { state: string; configuredPriority: number; masterAddress: string | undefined; masterPriority: number | undefined }): string | undefined {
  if (st.configuredPriority === 255) return 'this node is the address owner (priority 255): peers never take over from an owner';
  if (mode === 'failover') {
    if (st.state !== 'master') return `it is ${st.state}, not master: nothing to hand over`;
    return undefined;
  }
  if (st.state === 'master') return 'it is master already';
  if (st.state !== 'backup') return `it is ${st.state}: only a backup can take over`;
  if (st.masterPriority === 255) return `the master (${st.masterAddress ?? '?'}) is the address owner (priority 255)`;
  return undefined;
}
