// The text side of `duet export keepalived`: keepalived.conf lines with indentation, and the
// fields that could not be written, each with its YAML line. Pure.

import { formatPath } from '../config/load.js';
import { joinCommand } from './keepalived-words.js';

export type Path = readonly (string | number)[];

export interface ExportReport {
  /** 1-based line of the YAML field (or of the closest enclosing one that is written). */
  line: number;
  /** The field as a YAML path, "vrrp.instances[0].transport". */
  field: string;
  why: string;
}

/** keepalived.conf text with indentation, and what could not be written. */
export class Writer {
  private readonly lines: string[] = [];
  private depth = 0;
  readonly untranslated: ExportReport[] = [];
  readonly notes: ExportReport[] = [];
  constructor(private readonly lineOf: (path: Path) => number) {}

  line(text: string): void { this.lines.push(`${'  '.repeat(this.depth)}${text}`); }
  block(head: string, body: () => void): void {
    this.line(`${head} {`);
    this.depth++;
    body();
    this.depth--;
    this.line('}');
  }
  private report(list: ExportReport[], path: Path, why: string): void {
    const r = { line: this.lineOf(path), field: formatPath(path), why };
    if (!list.some((x) => x.line === r.line && x.field === r.field && x.why === r.why)) list.push(r);
  }
  lost(path: Path, why: string): void { this.report(this.untranslated, path, why); }
  note(path: Path, why: string): void { this.report(this.notes, path, why); }
  /** KEYWORD "argv", or reported. */
  command(keyword: string, argv: readonly string[] | undefined, path: Path): void {
    if (argv === undefined) return;
    const c = joinCommand(argv);
    if ('error' in c) this.lost(path, c.error);
    else this.line(`${keyword} ${c.text}`);
  }
  text(): string { return `${this.lines.join('\n')}\n`; }
}

/** Seconds from milliseconds, as keepalived reads them ("1", "0.5"). */
export const sec = (ms: number): string => String(ms / 1000);

