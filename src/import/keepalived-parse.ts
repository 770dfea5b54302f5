// keepalived.conf syntax, as keepalived 2.2.7's lib/parser.c reads it, into a tree of keyword
// nodes that each keep their file:line. Pure: files and globs come through the injected reader.
//
// Per line, in keepalived's order: comments (`#` or `!` outside double quotes; `\#`, `\!` escape
// them) and surrounding blanks are removed; `@ID rest` keeps `rest` only when ID is the config id
// (`@^ID` only when it is not; a line with nothing after the id is dropped); `$NAME=value`
// defines a parameter (a value ending in `\` continues on the next lines: a multi-line
// definition); once any is defined, `$NAME` and `${NAME}` are replaced (a multi-line one used
// alone on its line expands to its lines); a line `include PATTERN` (also includer, includem,
// includew, includeb, includea) reads every file the glob matches, in order, a relative pattern
// taken from the directory of the file that includes it (keepalived chdir()s there). Then the
// line is split into words (double quotes group and are removed) and `{` / `}` (outside quotes)
// open and close the block of the keyword before them, which may be on an earlier line.

/** Where a keyword or value was written. */
export interface Source {
  file: string;
  /** 1-based. */
  line: number;
}

/** A keyword line: its words after the keyword, and its block when one follows. */
export interface KaNode {
  keyword: string;
  args: string[];
  at: Source;
  /** The `{ ... }` block, when the keyword has one. */
  children?: KaNode[];
}

/** A problem found while reading (the reader's own or the syntax's), with where it was. */
export interface Diagnostic {
  at: Source;
  keyword: string;
  message: string;
}

/** The parser's only I/O: read a file, expand a glob. */
export interface ConfReader {
  /** The file's text, or an Error saying why it cannot be read. */
  read(path: string): string | Error;
  /** Absolute paths the pattern matches, sorted as glob(3) sorts them; [] for none. */
  glob(pattern: string): string[];
}

export interface ParseOptions {
  reader: ConfReader;
  /** keepalived -i; keepalived's default is the host name up to its first '.'. */
  configId?: string;
}

export interface ParseResult {
  nodes: KaNode[];
  /** Errors: an unreadable file, an include that matches nothing, unbalanced braces, an unterminated quote. */
  errors: Diagnostic[];
}

interface Line { text: string; at: Source }

/** How deep includes may nest before the parser assumes a loop (keepalived has no limit but the fd limit). */
const MAX_INCLUDE_DEPTH = 32;

/** keepalived's decomment(): strip comments and escapes outside quotes, and surrounding blanks. */
export function decomment(line: string): { text: string; unterminatedQuote: boolean } {
  let out = '';
  let quote = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') { quote = !quote; out += c; continue; }
    if (c === '\\' && i + 1 < line.length) {
      const n = line[i + 1]!;
      if (!quote && (n === '#' || n === '!')) out += n;
      else out += c + n;
      i++;
      continue;
    }
    if (!quote && (c === '#' || c === '!')) break;
    out += c;
  }
  return { text: out.trim(), unterminatedQuote: quote };
}

/** The directory part of a path ('.' for a bare name), as dirname(3). */
function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : path.slice(0, i);
}

const INCLUDE_RE = /^include[rmwba]?[ \t]+(.*)$/;
const DEFINITION_RE = /^\$([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*)$/;

class Reader {
  readonly errors: Diagnostic[] = [];
  private readonly defs = new Map<string, { value: string[] }>();

  constructor(private readonly o: ParseOptions) {}

  /** Every logical line of `file` and what it includes, comments removed, conditionals and parameters applied. */
  lines(file: string, depth: number, from: Source | undefined): Line[] {
    const text = this.o.reader.read(file);
    if (text instanceof Error) {
      this.errors.push({ at: from ?? { file, line: 0 }, keyword: from ? 'include' : file, message: `cannot read ${file}: ${text.message}` });
      return [];
    }
    const out: Line[] = [];
    const raw = text.split('\n');
    let pendingDef: { name: string; value: string[] } | undefined;
    for (let n = 0; n < raw.length; n++) {
      const at: Source = { file, line: n + 1 };
      const stripped = raw[n]!.replace(/\r+$/, '');
      if (pendingDef) {
        // A multi-line definition: each further line adds one, up to one not ending in '\'.
        const d = decomment(stripped).text;
        const more = d.endsWith('\\');
        const part = more ? d.slice(0, -1).trimEnd() : d;
        if (part !== '') pendingDef.value.push(part);
        if (!more || d === '') { this.defs.set(pendingDef.name, { value: pendingDef.value }); pendingDef = undefined; }
        continue;
      }
      const dc = decomment(stripped);
      if (dc.unterminatedQuote) this.errors.push({ at, keyword: dc.text.split(/\s+/)[0] ?? '', message: 'unterminated quote' });
      let line = dc.text;
      if (line === '') continue;
      if (line.startsWith('@')) {
        const rev = line.startsWith('@^');
        const m = /^@\^?(\S+)[ \t]+(.*)$/.exec(line);
        if (!m) continue; // nothing after the id: dropped, as keepalived
        const matches = this.o.configId !== undefined && m[1] === this.o.configId;
        if (matches === rev) continue;
        line = m[2]!.trim();
      }
      const def = DEFINITION_RE.exec(line);
      if (def) {
        const value = def[2]!;
        if (value.endsWith('\\')) {
          const first = value.slice(0, -1).trimEnd();
          pendingDef = { name: def[1]!, value: first === '' ? [] : [first] };
        } else this.defs.set(def[1]!, { value: [value] });
        continue;
      }
      if (/^~(SEQ|LST)\b/.test(line)) {
        // keepalived repeats the following line per value; not read here, so nothing is guessed.
        this.errors.push({ at, keyword: line.slice(0, 4), message: 'keepalived ~SEQ/~LST loops are not supported by duet import: expand them by hand' });
        continue;
      }
      const expanded = this.defs.size > 0 && line.includes('$') ? this.substitute(line, at) : [line];
      for (const l of expanded) {
        const inc = INCLUDE_RE.exec(l);
        if (inc) out.push(...this.include(inc[1]!.trim(), file, depth, at));
        else out.push({ text: l, at });
      }
    }
    if (pendingDef) this.defs.set(pendingDef.name, { value: pendingDef.value });
    return out;
  }

  /** $NAME / ${NAME} replaced; a multi-line definition alone on a line gives its lines. */
  private substitute(line: string, at: Source): string[] {
    let rounds = 0;
    let cur = [line];
    // Replacements may produce further parameters; keepalived goes on while any is found.
    while (rounds++ < 16) {
      let changed = false;
      const next: string[] = [];
      for (const l of cur) {
        const whole = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(l);
        const d = whole && this.defs.get(whole[1]!);
        if (whole && d && (l.startsWith('${') === l.endsWith('}'))) {
          next.push(...d.value.map((v) => decomment(v).text).filter((v) => v !== ''));
          changed = true;
          continue;
        }
        next.push(l.replace(/\$(\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (m: string, _b: string, braced?: string, bare?: string) => {
          const name = braced ?? bare ?? '';
          const v = this.defs.get(name);
          if (!v) return m;
          if (v.value.length > 1) {
            this.errors.push({ at, keyword: `$${name}`, message: 'a multi-line definition must be alone on its line' });
            return m;
          }
          changed = true;
          return v.value[0] ?? '';
        }));
      }
      cur = next;
      if (!changed) break;
    }
    return cur;
  }

  private include(pattern: string, file: string, depth: number, at: Source): Line[] {
    if (depth >= MAX_INCLUDE_DEPTH) {
      this.errors.push({ at, keyword: 'include', message: `includes nested more than ${MAX_INCLUDE_DEPTH} deep (a loop?)` });
      return [];
    }
    const unquoted = pattern.replace(/^"(.*)"$/, '$1');
    const abs = unquoted.startsWith('/') ? unquoted : `${dirOf(file)}/${unquoted}`;
    const files = this.o.reader.glob(abs);
    if (files.length === 0) {
      this.errors.push({ at, keyword: 'include', message: `no file matches ${abs}` });
      return [];
    }
    return files.flatMap((f) => this.lines(f, depth + 1, at));
  }
}

interface Token { text: string; brace: boolean }

/** Words of a line: double quotes group (and are removed), `{` and `}` outside quotes stand alone. */
export function tokenize(line: string): Token[] {
  const out: Token[] = [];
  let cur: string | undefined;
  let quote = false;
  const end = (): void => { if (cur !== undefined) out.push({ text: cur, brace: false }); cur = undefined; };
  for (const c of line) {
    if (quote) {
      if (c === '"') quote = false;
      else cur += c;
    } else if (c === '"') { quote = true; cur ??= ''; }
    else if (c === ' ' || c === '\t') end();
    else if (c === '{' || c === '}') { end(); out.push({ text: c, brace: true }); }
    else cur = (cur ?? '') + c;
  }
  end();
  return out;
}

/** Parse `file` (and what it includes) into keyword nodes. */
export function parseKeepalived(file: string, o: ParseOptions): ParseResult {
  const r = new Reader(o);
  const lines = r.lines(file, 0, undefined);
  const root: KaNode[] = [];
  const stack: { list: KaNode[]; opener?: KaNode }[] = [{ list: root }];
  for (const { text, at } of lines) {
    let current: KaNode | undefined;
    for (const tok of tokenize(text)) {
      const top = stack[stack.length - 1]!;
      if (tok.brace && tok.text === '{') {
        // The block belongs to the keyword on this line, or to the last one before it.
        const opener = current ?? top.list[top.list.length - 1];
        if (!opener || opener.children) {
          r.errors.push({ at, keyword: '{', message: 'a block must follow a keyword' });
          stack.push({ list: [] });
        } else {
          opener.children = [];
          stack.push({ list: opener.children, opener });
        }
        current = undefined;
      } else if (tok.brace) {
        if (stack.length === 1) r.errors.push({ at, keyword: '}', message: 'closes a block that was not opened' });
        else stack.pop();
        current = undefined;
      } else if (current) current.args.push(tok.text);
      else {
        current = { keyword: tok.text, args: [], at };
        top.list.push(current);
      }
    }
  }
  for (const open of stack.slice(1).reverse()) {
    const o2 = open.opener;
    r.errors.push({ at: o2?.at ?? { file, line: 0 }, keyword: o2?.keyword ?? '{', message: 'block not closed (missing })' });
  }
  return { nodes: root, errors: r.errors };
}

/** "file:line". */
export const where = (s: Source): string => `${s.file}:${s.line}`;
