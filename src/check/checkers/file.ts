// FILE_CHECK, with keepalived's track_file rules (track_file.c), read at each check instead of on
// inotify events:
//  - the file's first 127 bytes are read as C's strtol(text, NULL, 0) would: leading blanks, a
//    sign, 0x for hex, a leading 0 for octal, digits up to the first other character; no digits
//    (garbage), an empty, missing or unreadable file all read as 0;
//  - a number outside [-2^31, 2^31] is ignored: the last value stands (0 before any);
//  - weight 0: a non-zero value fails the check (with reverse: a zero value does);
//  - otherwise value * weight (negated with reverse), clamped to 32 bits, is added to the server's
//    weight (weightOffset); -2^31 (keepalived's IPVS_WEIGHT_FAULT) or below fails the check.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { CheckResult, FileCheckSpec } from '../types.js';
import { Probe, errnoReason } from './probe.js';

/** keepalived reads into a 128-byte buffer, NUL included. */
const READ_BYTES = 127;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** The last valid value per check (keepalived's last_status), for numbers it ignores. */
const lastValue = new WeakMap<FileCheckSpec, number>();

class FileProbe extends Probe {
  constructor(private readonly spec: FileCheckSpec) { super(); }

  protected begin(): void {
    readHead(this.spec.path).then((r) => this.judge(r), (e: unknown) => this.judge({ error: errnoReason(e) }));
  }

  private judge(r: { text: string } | { error: string }): void {
    const spec = this.spec;
    let value: number;
    let note = '';
    if ('error' in r) {
      value = 0;
      note = r.error === 'enoent' ? ' (missing)' : ` (unreadable: ${r.error})`;
    } else {
      const n = parseStrtol(r.text);
      if (n < BigInt(INT32_MIN) || n > BigInt(INT32_MAX) + 1n) {
        value = lastValue.get(spec) ?? 0;
        note = ` (ignored ${n}: out of range)`;
      } else {
        value = Number(n);
      }
    }
    lastValue.set(spec, value);
    const v = fileVerdict(value, spec.weight, spec.reverse);
    const reason = `value ${value}${note}`;
    if (!v.ok) this.finish(false, reason);
    else this.finish(true, reason, undefined, undefined, v.offset);
  }

  protected release(): void { /* readHead closes its own file */ }
}

async function readHead(path: string): Promise<{ text: string }> {
  // O_NONBLOCK: a FIFO without a writer must not hang the read (keepalived opens it so too).
  const h = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(READ_BYTES);
    const { bytesRead } = await h.read(buf, 0, READ_BYTES, null);
    return { text: buf.toString('latin1', 0, bytesRead) };
  } finally {
    await h.close();
  }
}

/** What a value read from the file means for the check: failed, or healthy with a weight offset. */
export function fileVerdict(value: number, weight: number, reverse: boolean): { ok: boolean; offset?: number } {
  if (weight === 0) return (value !== 0) !== reverse ? { ok: false } : { ok: true };
  const s = Math.max(INT32_MIN, Math.min(INT32_MAX, value * weight * (reverse ? -1 : 1))) + 0; // + 0: no -0
  return s <= INT32_MIN ? { ok: false } : { ok: true, offset: s };
}

/** C's strtol(text, NULL, 0) without its overflow clamp (the caller range-checks). */
export function parseStrtol(text: string): bigint {
  let i = 0;
  while (i < text.length && ' \t\n\v\f\r'.includes(text[i]!)) i++;
  let neg = false;
  if (text[i] === '+' || text[i] === '-') { neg = text[i] === '-'; i++; }
  let base = 10;
  let digits = /[0-9]/;
  if (text[i] === '0' && (text[i + 1] === 'x' || text[i + 1] === 'X') && /[0-9a-fA-F]/.test(text[i + 2] ?? '')) {
    base = 16; digits = /[0-9a-fA-F]/; i += 2;
  } else if (text[i] === '0') {
    base = 8; digits = /[0-7]/;
  }
  let n = 0n;
  const b = BigInt(base);
  // Enough digits to be out of any range the caller accepts; more would only grow the BigInt.
  for (let k = 0; i < text.length && digits.test(text[i]!) && k < 64; i++) {
    n = n * b + BigInt(parseInt(text[i]!, 16));
    if (n !== 0n) k++; // leading zeros do not count
  }
  return neg ? -n : n;
}

export function fileCheck(spec: FileCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  return new FileProbe(spec).run(signal, spec.timeoutMs);
}
