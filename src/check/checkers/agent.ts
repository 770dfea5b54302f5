// HAProxy agent-check: connect, send `send` (if any), read one line (up to a newline or EOF),
// and parse it the way HAProxy does. `ok` says only that the agent answered something
// parseable; what it said is in `agent`.
import type { Socket } from 'node:net';
import type { AgentAnswer, AgentCheckSpec, CheckResult } from '../types.js';
import { Probe, errnoReason, probeOf, tag } from './probe.js';
import { connectTo } from './tcp.js';

/** An answer is one short line; more than this without a newline is not an agent talking. */
export const MAX_ANSWER_BYTES = 1024;

class AgentProbe extends Probe {
  private socket: Socket | undefined;
  private text = '';

  constructor(private readonly spec: AgentCheckSpec) { super(); }

  protected begin(): void {
    const s = connectTo(this.spec.target);
    this.socket = s;
    tag(s, this);
    s.setEncoding('latin1');
    s.once('connect', onConnect);
    s.on('data', onData);
    s.once('end', onEnd);
    s.on('error', onError);
  }

  connected(): void {
    if (this.spec.send !== '') this.socket!.write(this.spec.send);
  }

  data(chunk: string): void {
    const nl = chunk.indexOf('\n');
    if (nl >= 0) { this.answer(this.text + chunk.slice(0, nl)); return; }
    this.text += chunk;
    if (this.text.length > MAX_ANSWER_BYTES) this.finish(false, 'bad answer');
  }

  /** EOF: what came so far is the answer (HAProxy accepts an answer closed without newline). */
  ended(): void { this.answer(this.text); }

  private answer(line: string): void {
    if (line.length > MAX_ANSWER_BYTES) { this.finish(false, 'bad answer'); return; }
    if (line.trim() === '') { this.finish(false, 'no answer'); return; }
    const a = parseAgentAnswer(line);
    if (a === undefined) this.finish(false, 'bad answer');
    else this.finish(true, describeAnswer(a), undefined, a);
  }

  protected release(): void { this.socket?.destroy(); }
}

function onConnect(this: Socket): void { probeOf<AgentProbe>(this).connected(); }
function onData(this: Socket, chunk: string): void { probeOf<AgentProbe>(this).data(chunk); }
function onEnd(this: Socket): void { probeOf<AgentProbe>(this).ended(); }
function onError(this: Socket, err: Error): void { probeOf<AgentProbe>(this).finish(false, errnoReason(err)); }

export function agentCheck(spec: AgentCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  return new AgentProbe(spec).run(signal, spec.timeoutMs);
}

const UP: AgentAnswer = { kind: 'up' };
const DOWN: AgentAnswer = { kind: 'down' };
const DRAIN: AgentAnswer = { kind: 'drain' };
const MAINT: AgentAnswer = { kind: 'maint' };
const PERCENT = /^(\d+)%$/;

/**
 * Parses an agent's answer as HAProxy does: words separated by spaces, tabs or commas, case
 * insensitive, up to the end of the line or a '#' (a comment follows). Words:
 *   up, ready               -> up
 *   down, fail, stopped     -> down
 *   drain                   -> drain
 *   maint                   -> maint
 *   NN%                     -> percent NN (capped at 100)
 * Other words (maxconn:N, anything unknown) are ignored, as HAProxy ignores them; an answer with
 * no word above is undefined (a bad answer).
 *
 * HAProxy keeps a health state (up/down), an admin state (ready/drain/maint) and a weight apart;
 * a result has one answer, so the most restrictive wins: maint > down > drain > percent > up.
 * "up 50%" is percent 50 (the percent implies up); "drain 50%" is drain; "ready" is up.
 */
export function parseAgentAnswer(text: string): AgentAnswer | undefined {
  let up = false, down = false, drain = false, maint = false;
  let percent: number | undefined;
  for (const word of firstLine(text).split(/[ \t,]+/)) {
    switch (word.toLowerCase()) {
      case 'up': case 'ready': up = true; break;
      case 'down': case 'fail': case 'stopped': down = true; break;
      case 'drain': drain = true; break;
      case 'maint': maint = true; break;
      default: {
        const m = PERCENT.exec(word);
        if (m) percent = Math.min(100, Number(m[1]));
      }
    }
  }
  if (maint) return MAINT;
  if (down) return DOWN;
  if (drain) return DRAIN;
  if (percent !== undefined) return { kind: 'percent', percent };
  return up ? UP : undefined;
}

/** The answer up to the first CR, LF or '#'. */
function firstLine(text: string): string {
  let end = text.length;
  for (const c of ['\r', '\n', '#']) {
    const i = text.indexOf(c);
    if (i >= 0 && i < end) end = i;
  }
  return text.slice(0, end);
}

/** The reason for an answered check: "up", "down", "drain", "maint" or "50%". */
export function describeAnswer(a: AgentAnswer): string {
  return a.kind === 'percent' ? `${a.percent}%` : a.kind;
}
