// The BGP speaker's own view of its sessions, read from its CLI output (pure parsers; the
// command runs at the edge with a timeout, so a hung speaker cannot hang duet).
//   BIRD 2:  birdc -s SOCKET show protocols
//   FRR:     vtysh -c 'show bgp summary json'

export interface BgpSession {
  /** BIRD: the protocol name; FRR: the neighbor address. */
  name: string;
  /** Established, Active, Connect, Idle, OpenSent, ... as the speaker says it. */
  state: string;
  established: boolean;
  /** The speaker's "since" text or uptime, as printed. */
  since: string;
  info: string;
}

export type SpeakerFormat = 'bird' | 'frr-json';

/** Sessions from the output; undefined when it is not the expected format at all. */
export function parseSessions(format: SpeakerFormat, text: string): BgpSession[] | undefined {
  return format === 'bird' ? parseBirdProtocols(text) : parseFrrSummary(text);
}

/**
 * `birdc show protocols`: a header line (Name Proto Table State Since Info), then one line per
 * protocol; the BGP ones are kept. State is up/start/down/flush; Info holds the BGP state
 * (Established, Active, Connect, ...) and sometimes a last error after it.
 */
export function parseBirdProtocols(text: string): BgpSession[] | undefined {
  const lines = text.split('\n');
  if (!lines.some((l) => /^Name\s+Proto\s+Table\s+State\s+Since\s+Info/.test(l))) return undefined;
  const out: BgpSession[] = [];
  for (const l of lines) {
    // Since is "HH:MM:SS.mmm", or a date, or "YYYY-MM-DD HH:MM:SS" depending on timeformat.
    const m = /^(\S+)\s+BGP\s+\S+\s+(\S+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\S*|\S+)\s*(.*?)\s*$/.exec(l);
    if (!m) continue;
    const info = m[4] ?? '';
    const state = (/^\S+/.exec(info)?.[0]) ?? m[2]!;
    out.push({ name: m[1]!, state, established: m[2] === 'up' && state === 'Established', since: m[3]!, info });
  }
  return out;
}

/** FRR `show bgp summary json`: {ipv4Unicast: {peers: {ADDR: {state, peerUptime}}}} (per AFI/SAFI). */
export function parseFrrSummary(text: string): BgpSession[] | undefined {
  let v: unknown;
  try { v = JSON.parse(text); } catch { return undefined; }
  if (typeof v !== 'object' || v === null) return undefined;
  const seen = new Map<string, BgpSession>();
  for (const afi of Object.values(v as Record<string, unknown>)) {
    const peers = (afi as { peers?: unknown } | null)?.peers;
    if (typeof peers !== 'object' || peers === null) continue;
    for (const [addr, p] of Object.entries(peers as Record<string, { state?: unknown; peerUptime?: unknown }>)) {
      const state = typeof p?.state === 'string' ? p.state : 'unknown';
      if (!seen.has(addr)) seen.set(addr, { name: addr, state, established: state === 'Established', since: typeof p?.peerUptime === 'string' ? p.peerUptime : '', info: '' });
    }
  }
  return [...seen.values()];
}
