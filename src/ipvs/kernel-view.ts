// The kernel's IPVS table and connection entries as plain (JSON) views: what `duet ipvs list`
// and `duet ipvs conns` print. The daemon answers them over its control socket; the CLI reads
// the kernel through this module itself only when no daemon answers (as ipvsadm would).
import { readFile } from 'node:fs/promises';
import { IpvsClient } from './genl-client.js';
import { parseConns, CONN_PROC_FILE, type ConnEntry } from './conns.js';
import type { IpvsInfo } from './format.js';
import type { Destination, DestStats, Service, Stats, Table, TableStats } from './model.js';

export interface IpvsListView {
  version: string;
  connTabSize: number;
  services: Array<Omit<Service, 'dests'> & { key: string; stats: Stats | undefined; dests: Array<Destination & { key: string; stats: DestStats | undefined }> }>;
  /** What the kernel returned that duet could not map (each with why). */
  unmapped: unknown[];
}

/** The kernel's table with stats, as a view (opens and closes one generic-netlink socket). */
export async function readIpvsList(): Promise<IpvsListView> {
  const c = await IpvsClient.open();
  try {
    const info = await c.getInfo();
    const dump = await c.dump();
    return {
      version: info.version, connTabSize: info.connTabSize, unmapped: [...dump.unmapped],
      services: [...dump.table].map(([key, s]) => ({
        key, ...s,
        dests: [...s.dests].map(([dk, d]) => ({ key: dk, ...d, stats: dump.stats.get(key)?.dests.get(dk) })),
        stats: dump.stats.get(key)?.stats,
      })),
    };
  } finally {
    c.close();
  }
}

/** A view back into the info, table and stats the ipvsadm-style formatter takes. */
export function viewTables(v: IpvsListView): { info: IpvsInfo; table: Table; stats: TableStats } {
  const table = new Map<string, Service>();
  const stats = new Map<string, { stats: Stats; dests: Map<string, DestStats> }>();
  for (const { key, stats: st, dests, ...s } of v.services) {
    table.set(key, { ...s, dests: new Map(dests.map(({ key: dk, stats: _ds, ...d }) => [dk, d])) } as unknown as Service);
    const ds = new Map<string, DestStats>();
    for (const d of dests) if (d.stats) ds.set(d.key, d.stats);
    if (st) stats.set(key, { stats: st, dests: ds });
  }
  return { info: { version: v.version, connTabSize: v.connTabSize }, table, stats };
}

/** /proc/net/ip_vs_conn (IPVS has no netlink dump of connections), like ipvsadm -Lnc. */
export async function readIpvsConns(): Promise<ConnEntry[]> {
  const text = await readFile(CONN_PROC_FILE, 'utf8').catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
    // Not loaded yet: resolving the IPVS genl family autoloads ip_vs (as ipvsadm's init does).
    (await IpvsClient.open().catch(() => undefined))?.close();
    return readFile(CONN_PROC_FILE, 'utf8');
  }).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${CONN_PROC_FILE}: ${e.code === 'ENOENT' ? 'IPVS not available in this kernel (is ip_vs loaded?)' : e.message}`);
  });
  return parseConns(text);
}
