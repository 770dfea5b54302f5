// Human wording for zod issues: "must be 1..255, got 300", "unknown field 'prority'",
// "expected one of 2, 3, got 4". YAML vocabulary (mapping, list), not JavaScript's.

import type { z } from 'zod';

/** A value as the operator wrote it, for "got ..." clauses. */
export function show(v: unknown): string {
  if (v === null) return 'an empty value';
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') {
    const s = v.length > 40 ? `${v.slice(0, 37)}...` : v;
    return `'${s}'`;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  tuple: 'a list',
};

function listValues(values: readonly unknown[]): string {
  return values.map((v) => String(v)).join(', ');
}

/** Levenshtein distance, for "did you mean" hints on unknown keys. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The closest known name within a typo's reach, if any. */
export function suggest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  for (const k of known) {
    const d = distance(word.toLowerCase(), k.toLowerCase());
    if (d <= bestD && (best === undefined || d < bestD)) { best = k; bestD = d; }
  }
  return best;
}

/** Keys recognised by a strict object schema (the issue's `inst`), if it is one. */
export function knownKeys(inst: unknown): string[] | undefined {
  const shape = (inst as { _zod?: { def?: { shape?: unknown } } } | undefined)?._zod?.def?.shape;
  return shape && typeof shape === 'object' ? Object.keys(shape) : undefined;
}

export function unknownFieldMessage(key: string, known: readonly string[] | undefined, reserved: readonly string[] = []): string {
  if (reserved.includes(key)) return `'${key}' is not supported yet`;
  const hint = known ? suggest(key, known) : undefined;
  return hint ? `unknown field '${key}' (did you mean '${hint}'?)` : `unknown field '${key}'`;
}

/** Contextual error map: used for every issue whose schema or check has no message of its own. */
export const humanErrorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'missing required field';
      return `expected ${EXPECTED[iss.expected] ?? iss.expected}, got ${show(iss.input)}`;
    case 'too_small':
      if (iss.origin === 'array' || iss.origin === 'set') {
        return Number(iss.minimum) <= 1 ? 'must not be empty' : `must have at least ${iss.minimum} items`;
      }
      if (iss.origin === 'string') {
        return Number(iss.minimum) <= 1 ? 'must not be empty' : `must be at least ${iss.minimum} characters`;
      }
      return `must be ${iss.inclusive === false ? '>' : '>='} ${iss.minimum}, got ${show(iss.input)}`;
    case 'too_big':
      if (iss.origin === 'array' || iss.origin === 'set') return `must have at most ${iss.maximum} items`;
      if (iss.origin === 'string') return `must be at most ${iss.maximum} characters`;
      return `must be ${iss.inclusive === false ? '<' : '<='} ${iss.maximum}, got ${show(iss.input)}`;
    case 'invalid_value':
      return `expected one of ${listValues(iss.values)}, got ${show(iss.input)}`;
    case 'invalid_format':
      return `invalid format: ${show(iss.input)}`;
    case 'not_multiple_of':
      return `must be a multiple of ${iss.divisor}, got ${show(iss.input)}`;
    case 'unrecognized_keys':
      // load.ts splits this into one issue per key, positioned at the key.
      return iss.keys.map((k) => unknownFieldMessage(k, knownKeys(iss.inst))).join('; ');
    case 'invalid_union': {
      if (iss.discriminator !== undefined) {
        const d = iss.discriminator;
        const input = iss.input as Record<string, unknown> | undefined;
        const got = input && typeof input === 'object' ? input[d] : undefined;
        const options = Array.isArray(iss.options) ? ` one of ${listValues(iss.options)}` : '';
        if (input === null || typeof input !== 'object' || Array.isArray(input)) return `expected a mapping, got ${show(input)}`;
        if (got === undefined) return `missing required field '${d}'${options ? ` (${options.trim()})` : ''}`;
        return `expected${options || ' a known value'}, got ${show(got)}`;
      }
      return `unexpected value ${show(iss.input)}`;
    }
    case 'invalid_key': {
      const first = iss.issues[0];
      return `invalid name ${show(iss.input)}${first ? `: ${first.message}` : ''}`;
    }
    case 'invalid_element':
      return `invalid entry ${show(iss.key)}`;
    case 'custom':
      return undefined;
    default:
      return undefined;
  }
};
