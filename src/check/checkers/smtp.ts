// SMTP_CHECK, as keepalived: connect, read the 220 greeting, send HELO (EHLO when asked), expect
// 250, send QUIT and read its answer. Replies may span lines ("250-..." continues, "250 ..."
// ends, RFC 5321 §4.2.1); a reply's code is its last line's. Healthy once QUIT is answered (or
// the server closes after QUIT): the 250 proved it speaks SMTP.
import type { Socket } from 'node:net';
import type { CheckResult, SmtpCheckSpec } from '../types.js';
import { Probe, errnoReason, probeOf, tag } from './probe.js';
import { connectTo } from './tcp.js';

/** One reply line longer than this is not an SMTP server talking (RFC 5321: 512 octets). */
export const MAX_LINE_BYTES = 4096;
/** Continuation lines allowed in one reply (an EHLO answer has one per extension). */
const MAX_REPLY_LINES = 100;

type Stage = 'greeting' | 'helo' | 'quit';

class SmtpProbe extends Probe {
  private socket: Socket | undefined;
  private stage: Stage = 'greeting';
  private buf = '';
  private lines = 0;

  constructor(private readonly spec: SmtpCheckSpec) { super(); }

  protected begin(): void {
    const s = connectTo(this.spec.target);
    this.socket = s;
    tag(s, this);
    s.setEncoding('latin1');
    s.on('data', onData);
    s.once('end', onEnd);
    s.on('error', onError);
  }

  data(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) break;
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      this.line(line);
      if (this.finished) return;
    }
    if (this.buf.length > MAX_LINE_BYTES) this.finish(false, 'bad reply');
  }

  private line(line: string): void {
    const m = /^(\d{3})([ -]|$)/.exec(line);
    if (!m) { this.finish(false, `bad reply at ${this.stage}`); return; }
    if (m[2] === '-') {
      if (++this.lines > MAX_REPLY_LINES) this.finish(false, 'bad reply');
      return;
    }
    this.lines = 0;
    this.reply(Number(m[1]));
  }

  private reply(code: number): void {
    const s = this.socket!;
    switch (this.stage) {
      case 'greeting':
        if (code !== 220) { this.finish(false, `greeting ${code}`); return; }
        this.stage = 'helo';
        s.write(`${this.spec.ehlo ? 'EHLO' : 'HELO'} ${this.spec.heloName}\r\n`);
        return;
      case 'helo':
        if (code !== 250) { this.finish(false, `${this.spec.ehlo ? 'ehlo' : 'helo'} ${code}`); return; }
        this.stage = 'quit';
        s.write('QUIT\r\n');
        return;
      case 'quit':
        this.finish(true, 'smtp ok');
    }
  }

  ended(): void {
    if (this.stage === 'quit') this.finish(true, 'smtp ok');
    else this.finish(false, `closed at ${this.stage}`);
  }

  protected release(): void { this.socket?.destroy(); }
}

function onData(this: Socket, chunk: string): void { probeOf<SmtpProbe>(this).data(chunk); }
function onEnd(this: Socket): void { probeOf<SmtpProbe>(this).ended(); }
function onError(this: Socket, err: Error): void { probeOf<SmtpProbe>(this).finish(false, errnoReason(err)); }

export function smtpCheck(spec: SmtpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  return new SmtpProbe(spec).run(signal, spec.timeoutMs);
}
