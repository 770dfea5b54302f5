// Virtual-server sections parsed under a minimal VRRP section, for the config tests of checks.
import { formatIssue, parseConfig } from '../../src/config/load.js';
import type { VirtualServerConfig } from '../../src/config/schema.js';

export const VRRP = 'vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\nvirtual_servers:\n';

/** The resolved virtual servers of `VRRP + yaml`; throws with the issues if it does not load. */
export function parseVirtualServers(yaml: string): VirtualServerConfig[] {
  const r = parseConfig(VRRP + yaml, 'duet.yaml');
  if (!r.ok) throw new Error(r.error.map(formatIssue).join('\n'));
  return r.value.virtualServers;
}

/** The issues `VRRP + yaml` has, formatted (empty when it loads). */
export function configIssues(yaml: string): string[] {
  const r = parseConfig(VRRP + yaml, 'duet.yaml');
  return r.ok ? [] : r.error.map(formatIssue);
}
