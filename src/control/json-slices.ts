// JSON.stringify for large replies without holding the event loop: `duet status` at 10,000 real
// servers is ~3 MB of JSON, 10-100 ms of one JSON.stringify on the thread that sends VRRP adverts.
// Here the long arrays are serialized an element at a time, with a turn of the loop after every
// `slice` elements; everything else goes through JSON.stringify itself. Same text as
// JSON.stringify for plain data (objects, arrays, strings, numbers, booleans, null; undefined,
// functions and symbols skipped in objects and null in arrays; anything with a toJSON, or not a
// plain object, handed to JSON.stringify whole).

import { nextTurn } from '../core/turn.js';

/** Arrays longer than this are cut into slices; each element is assumed small. */
const LONG = 16;

export interface SliceOptions {
  /** Elements of long arrays per turn (default 250: about a millisecond of work). */
  slice?: number;
  /** Gives the loop a turn (default setImmediate); for tests. */
  turn?: () => Promise<void>;
}

export async function stringifyInSlices(value: unknown, o: SliceOptions = {}): Promise<string> {
  const slice = o.slice ?? 250;
  const turn = o.turn ?? nextTurn;
  const parts: string[] = [];
  let budget = slice;
  const it = walk(value, parts, () => --budget <= 0);
  while (!it.next().done) {
    budget = slice;
    await turn();
  }
  return parts.join('');
}

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}

const skipped = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/** Pushes v's JSON onto parts; yields when spent() says the slice is used up. */
function* walk(v: unknown, parts: string[], spent: () => boolean): Generator<void, void, void> {
  if (Array.isArray(v)) {
    parts.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) parts.push(',');
      const el: unknown = v[i];
      if (skipped(el)) parts.push('null');
      else if (v.length > LONG) {
        parts.push(JSON.stringify(el) ?? 'null');
        if (spent()) yield;
      } else yield* walk(el, parts, spent);
    }
    parts.push(']');
    return;
  }
  if (typeof v === 'object' && v !== null && isPlain(v)) {
    parts.push('{');
    let first = true;
    for (const k of Object.keys(v)) {
      const x = (v as Record<string, unknown>)[k];
      if (skipped(x)) continue;
      parts.push(first ? '' : ',', JSON.stringify(k), ':');
      first = false;
      yield* walk(x, parts, spent);
    }
    parts.push('}');
    return;
  }
  const s = JSON.stringify(v);
  if (s !== undefined) parts.push(s);
}
