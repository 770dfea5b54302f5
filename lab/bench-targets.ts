// The target servers of the check benchmarks (bench:checks, bench:moonshot): one TCP and one HTTP
// listener (bench-checks-servers.ts) in a lab host, answering for every address of
// 198.18.0.0/15, which localTargets makes local there.
import { fileURLToPath } from 'node:url';
import { onCleanup, onLines, waitFor, type Lab } from './lab.js';
import { HTTP_PORT, LOCAL_ROUTE, TCP_PORT } from './bench-checks-config.js';

const SERVERS_SCRIPT = fileURLToPath(new URL('./bench-checks-servers.js', import.meta.url));

const alive = (p: { exitCode: number | null; signalCode: NodeJS.Signals | null }): boolean => p.exitCode === null && p.signalCode === null;

/** Make every address of 198.18.0.0/15 local in a host's namespace (a listener on 0.0.0.0 answers all). */
export async function localTargets(lab: Lab, host: string): Promise<void> {
  await lab.exec(host, ['ip', 'route', 'add', 'local', LOCAL_ROUTE, 'dev', 'lo']);
}

export interface ServerStats { tcpAccepted: number; httpServed: number; errors: number; cpuMs: number }

/** The target servers in a host's namespace; `stats()` asks for their counters. */
export async function startServers(lab: Lab, host: string): Promise<{ stats(): Promise<ServerStats> }> {
  const proc = lab.spawn(host, [process.execPath, SERVERS_SCRIPT, String(TCP_PORT), String(HTTP_PORT)], { stdio: ['pipe', 'pipe', 'pipe'] });
  onCleanup(() => { if (alive(proc)) proc.kill('SIGKILL'); });
  let ready = false;
  let err = '';
  const waiting: ((s: ServerStats) => void)[] = [];
  onLines(proc.stdout, (l) => { if (l === 'ready') ready = true; else waiting.shift()?.(JSON.parse(l) as ServerStats); });
  onLines(proc.stderr, (l) => { err += `${l}\n`; });
  proc.stdin!.on('error', () => undefined);
  await waitFor(() => ready || !alive(proc), { timeoutMs: 10_000, intervalMs: 20, what: `target servers in ${host}` });
  if (!ready) throw new Error(`target servers in ${host} exited: ${err.trim()}`);
  return {
    stats: () => new Promise((resolve) => { waiting.push(resolve); proc.stdin!.write('stats\n'); }),
  };
}

