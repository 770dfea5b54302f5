// Small readers for keepalived's words: numbers, commands, address ranges. Pure; each returns
// undefined (or an error text) instead of throwing, so the mapping can say why it dropped a value.

/** A keepalived number: decimal, optionally with a fraction when `fraction` allows. */
export function number(s: string | undefined, o: { min: number; max: number; fraction?: boolean }): number | undefined {
  if (s === undefined) return undefined;
  if (!(o.fraction ? /^-?\d+(\.\d+)?$/ : /^-?\d+$/).test(s)) return undefined;
  const n = Number(s);
  return n >= o.min && n <= o.max ? n : undefined;
}

/**
 * A command line as keepalived splits a script (notify_*, script, misc_path, quorum_up): words
 * separated by blanks, single or double quotes group. Shell syntax (redirection, pipes, `;`,
 * `$`, backquotes) outside quotes is refused: keepalived runs these without a shell too, so
 * such a line never did what it looks like, except where /bin/sh was called explicitly.
 */
export function splitCommand(line: string): string[] | string {
  const out: string[] = [];
  let cur: string | undefined;
  let quote: string | undefined;
  for (const c of line) {
    if (quote) {
      if (c === quote) quote = undefined;
      else cur = (cur ?? '') + c;
    } else if (c === '"' || c === "'") { quote = c; cur ??= ''; }
    else if (c === ' ' || c === '\t') { if (cur !== undefined) out.push(cur); cur = undefined; }
    else if ('<>|;&`$'.includes(c)) return `'${c}' is shell syntax and duet runs no shell`;
    else cur = (cur ?? '') + c;
  }
  if (quote) return 'unterminated quote';
  if (cur !== undefined) out.push(cur);
  return out.length ? out : 'empty command';
}

/** keepalived's address ranges: "10.0.0.1-5" (last IPv4 byte) or "ae00::2-9" (last IPv6 group, hex). */
export function expandRange(spec: string): string[] | undefined {
  const m = /^(.*[.:])([0-9A-Fa-f]+)-([0-9A-Fa-f]+)$/.exec(spec);
  if (!m) return [spec];
  const v6 = spec.includes(':');
  const base = v6 ? 16 : 10;
  const from = parseInt(m[2]!, base), to = parseInt(m[3]!, base);
  if (!(to >= from) || to - from > 255 || (!v6 && to > 255) || (v6 && to > 0xffff)) return undefined;
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(`${m[1]!}${i.toString(base)}`);
  return out;
}

/** An address with optional brackets removed ("[ae00::1]" as keepalived allows). */
export const bare = (s: string): string => s.replace(/^\[(.*)\]$/, '$1');

/** keepalived's checker blocks and duet's check types (import and export read the same table). */
export const CHECKER_TYPES: Readonly<Record<string, string>> = {
  HTTP_GET: 'http', SSL_GET: 'https', TCP_CHECK: 'tcp', UDP_CHECK: 'udp', PING_CHECK: 'ping', DNS_CHECK: 'dns', SMTP_CHECK: 'smtp', MISC_CHECK: 'exec', FILE_CHECK: 'file',
};

/** keepalived's garp_* keywords (in vrrp_instance; vrrp_garp_* in global_defs) and duet's garp fields. */
export const GARP_NAMES: Readonly<Record<string, string>> = {
  garp_master_delay: 'master_delay', garp_master_repeat: 'master_repeat', garp_master_refresh: 'master_refresh',
  garp_interval: 'interval', garp_lower_prio_repeat: 'lower_prio_repeat', garp_lower_prio_delay: 'lower_prio_delay',
};

/**
 * The inverse of splitCommand: an argv as one keepalived value, `"prog arg 'two words'"`
 * (double quotes make it one word for the config reader, single quotes group within it, as
 * keepalived splits a script). Returns an error text for a word it cannot write.
 */
export function joinCommand(argv: readonly string[]): { text: string } | { error: string } {
  const words: string[] = [];
  for (const w of argv) {
    if (w.includes('"') || w.includes('\n')) return { error: `argument ${JSON.stringify(w)} has a double quote or a newline, which a keepalived value cannot hold` };
    if (w !== '' && !/[\s'<>|;&`$\\#!]/.test(w)) { words.push(w); continue; }
    if (w.includes("'")) return { error: `argument ${JSON.stringify(w)} has both a single quote and characters that need quoting` };
    words.push(`'${w}'`);
  }
  return { text: `"${words.join(' ')}"` };
}

/** One keepalived word: double-quoted when it has blanks, braces or comment characters; undefined if it cannot be written. */
export function quoteWord(w: string): string | undefined {
  if (w.includes('"') || w.includes('\n')) return undefined;
  return w !== '' && !/[\s{}#!\\]/.test(w) ? w : `"${w}"`;
}
