// Sync groups: instances that fail over together (keepalived vrrp_sync_group). Pure.
// A fault in one member puts every member in fault; a member that becomes master on its own
// pulls the others to master; one that yields to a higher-priority master pushes them to backup.
import type { State, Reason } from './fsm.js';

export interface MemberView { name: string; state: State }

export function syncGroupForces(
  members: readonly MemberView[],
  changed: { name: string; from: State; to: State; reason: Reason },
): { name: string; to: 'master' | 'backup' }[] {
  // Moves we caused ourselves must not echo back and forth.
  if (changed.reason === 'sync-group') return [];
  const others = members.filter((m) => m.name !== changed.name);
  if (changed.to === 'master') return others.filter((m) => m.state === 'backup').map((m) => ({ name: m.name, to: 'master' }));
  if (changed.from === 'master' && changed.to === 'backup') return others.filter((m) => m.state === 'master').map((m) => ({ name: m.name, to: 'backup' }));
  return [];
}

/** A group is in fault while any member has its own fault. */
export const groupFault = (ownFaults: readonly boolean[]): boolean => ownFaults.some(Boolean);
