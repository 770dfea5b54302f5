// Regular expressions from the config (an HTTP check's body_regex) run on untrusted input: the
// body a real server sends. They are compiled by re2js, a port of RE2, whose matching takes time
// linear in the input, so no pattern and no body can wedge the check engine (a catastrophic
// pattern such as (a+)+b against a long run of a's would in a backtracking engine). RE2 syntax:
// no backreferences and no lookaround.
import { RE2JS } from 're2js';

export interface LinearRegex {
  /** Whether the pattern matches anywhere in s. */
  test(s: string): boolean;
}

/** Throws an Error naming what RE2 cannot parse ("missing closing ): `(`"). */
export function compileLinearRegex(source: string): LinearRegex {
  try {
    return RE2JS.compile(source);
  } catch (e) {
    throw new Error((e instanceof Error ? e.message : String(e)).replace(/^error parsing regexp: /, ''));
  }
}
