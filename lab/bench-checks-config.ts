// Config for bench:checks: virtual servers whose real servers each get one check at 1 s.
//
// The config refuses loopback real servers (127/8), so real servers live in 198.18.0.0/15 (the
// RFC 2544 benchmarking range): TCP-checked ones in 198.18.x.y, HTTP-checked ones in 198.19.x.y.
// The bench makes that whole /15 local in its namespaces (`ip route add local 198.18.0.0/15 dev
// lo`), so every check goes over loopback to one listener per kind bound to 0.0.0.0.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIssue, parseConfig } from '../src/config/load.js';
import { loadConfigOffThread } from '../src/config/load-worker.js';
import type { VirtualServerConfig } from '../src/config/schema.js';

export const TCP_PORT = 8080;
export const HTTP_PORT = 8081;
/** Real servers per virtual server. */
export const PER_VS = 100;
export const LOCAL_ROUTE = '198.18.0.0/15';

export interface CheckLoad { tcp: number; http: number }

/** Real server i of a kind: 250 addresses per /24 (no .0, no .255). */
export function rsAddress(kind: 'tcp' | 'http', i: number): string {
  return `198.${kind === 'tcp' ? 18 : 19}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

function vsBlock(kind: 'tcp' | 'http', v: number, first: number, count: number): string {
  const port = kind === 'tcp' ? TCP_PORT : HTTP_PORT;
  const lines = [
    `  - address: 10.${kind === 'tcp' ? 1 : 2}.${Math.floor(v / 250)}.${(v % 250) + 1}`,
    `    port: ${port}`,
    '    lb_kind: dr',
    `    checks: [{ type: ${kind}, interval: 1, timeout: 0.9 }]`,
    '    real_servers:',
  ];
  for (let i = first; i < first + count; i++) lines.push(`      - { address: ${rsAddress(kind, i)} }`);
  return `${lines.join('\n')}\n`;
}

/** The `virtual_servers:` section (top level) for `tcp` + `http` checked real servers. */
export function virtualServersYaml(load: CheckLoad): string {
  let y = 'virtual_servers:\n';
  for (const kind of ['tcp', 'http'] as const) {
    const n = load[kind];
    for (let v = 0, first = 0; first < n; v++, first += PER_VS) y += vsBlock(kind, v, first, Math.min(PER_VS, n - first));
  }
  return load.tcp + load.http === 0 ? '' : y;
}

const STUB_VRRP = 'vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\n';

/** The same, parsed on this thread (a config needs a VRRP instance: a stub one). */
export function virtualServers(load: CheckLoad): VirtualServerConfig[] {
  const r = parseConfig(`${STUB_VRRP}${virtualServersYaml(load)}`, 'bench-checks.yaml');
  if (!r.ok) throw new Error(r.error.slice(0, 5).map(formatIssue).join('\n'));
  return r.value.virtualServers;
}

/**
 * The same, loaded as the daemon loads its file (loadConfigOffThread: a large file is parsed on a
 * worker thread, so the parser's garbage is not this thread's heap, nor its RSS).
 */
export async function loadVirtualServers(load: CheckLoad): Promise<VirtualServerConfig[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-checks-'));
  try {
    const file = join(dir, 'duet.yaml');
    writeFileSync(file, `${STUB_VRRP}${virtualServersYaml(load)}`);
    const r = await loadConfigOffThread(file);
    if (!r.ok) throw new Error(r.error.slice(0, 5).map(formatIssue).join('\n'));
    return r.value.virtualServers;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
