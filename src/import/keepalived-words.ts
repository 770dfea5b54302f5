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
