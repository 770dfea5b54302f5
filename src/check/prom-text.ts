// The per-server check families of a Prometheus scrape (a series per real server and check:
// ~50,000 at 10,000 checked servers) written straight as text, a slice of servers per event-loop
// turn, by the thread that runs the checks (the check worker): through prom-client's label maps on
// the daemon's main thread, which also sends the VRRP adverts, the same four families held it
// ~185 ms in one turn at 10,000 servers, and their garbage cost it more in GC pauses
// (bench:moonshot). The text is what prom-client writes for them (same names, HELP, TYPE, label
// order and escaping), so dashboards and alerts read it unchanged.
import type { ServiceStatus } from './engine.js';
import { nextTurn } from '../core/turn.js';

/** Real servers written per turn. */
export const SERVERS_PER_TURN = 500;

type Kind = 'counter' | 'gauge';
interface Family { name: string; help: string; type: Kind; lines: string[] }

const family = (name: string, help: string, type: Kind): Family => ({ name, help, type, lines: [] });

/** prom-client's escaping of a label value: backslash, newline, double quote. */
export const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** prom-client's escaping of HELP text: backslash and newline. */
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

const num = (v: number): string => (Number.isNaN(v) ? 'Nan' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));

/** The names of the families written here (the registry must not hold them too). */
export const CHECK_TEXT_FAMILIES = ['duet_check_results_total', 'duet_check_up', 'duet_real_server_weight', 'duet_service_quorum_up'] as const;

/**
 * The four families as one text block (families separated by a blank line, as the registry
 * separates its own), built SERVERS_PER_TURN servers at a time with a turn of the loop between.
 */
export async function checkFamiliesText(services: readonly ServiceStatus[], yieldTurn: () => Promise<void> = nextTurn): Promise<string> {
  const results = family('duet_check_results_total', 'Check results by outcome', 'counter');
  const up = family('duet_check_up', 'Check health: 1 up, 0 down, -1 not known yet', 'gauge');
  const weight = family('duet_real_server_weight', 'Weight health checks give a real server (-1: out of the table)', 'gauge');
  const quorum = family('duet_service_quorum_up', 'Quorum of a checked service (0: sorry server in use)', 'gauge');
  let written = 0;
  for (const svc of services) {
    const s = `service="${escapeLabel(svc.name)}"`;
    for (const srv of svc.servers) {
      if (written > 0 && written % SERVERS_PER_TURN === 0) await yieldTurn();
      written++;
      const ss = `${s},server="${escapeLabel(srv.server)}"`;
      for (const c of srv.checks) {
        const sc = `${ss},check="${escapeLabel(c.check)}"`;
        results.lines.push(`${results.name}{${sc},result="ok"} ${num(c.checks - c.failures)}`, `${results.name}{${sc},result="failed"} ${num(c.failures)}`);
        up.lines.push(`${up.name}{${sc}} ${c.health === 'up' ? 1 : c.health === 'down' ? 0 : -1}`);
      }
      weight.lines.push(`${weight.name}{${ss},kind="configured"} ${num(srv.configured)}`, `${weight.name}{${ss},kind="effective"} ${srv.verdict === 'remove' ? -1 : num(srv.verdict)}`);
    }
    quorum.lines.push(`${quorum.name}{${s}} ${svc.quorumUp ? 1 : 0}`);
  }
  return [results, up, weight, quorum]
    .map((f) => [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`, ...f.lines].join('\n'))
    .join('\n\n');
}
