// glob(3) as keepalived calls it for `include` (GLOB_MARK | GLOB_BRACE): `*`, `?`, `[...]` within
// one path component, `{a,b}` alternatives, no match for hidden files unless the pattern starts
// with '.', results sorted per pattern. Pure: the directory listing is injected.

/** `{a,b}` alternatives expanded (nested allowed), in order. */
export function expandBraces(p: string): string[] {
  let depth = 0, start = -1;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') { i++; continue; }
    if (c === '{') { if (depth++ === 0) start = i; }
    else if (c === '}' && depth > 0 && --depth === 0) {
      const inner = p.slice(start + 1, i);
      const parts: string[] = [];
      let d = 0, from = 0;
      for (let j = 0; j < inner.length; j++) {
        if (inner[j] === '\\') { j++; continue; }
        if (inner[j] === '{') d++;
        else if (inner[j] === '}') d--;
        else if (inner[j] === ',' && d === 0) { parts.push(inner.slice(from, j)); from = j + 1; }
      }
      parts.push(inner.slice(from));
      const head = p.slice(0, start), tail = p.slice(i + 1);
      return parts.flatMap((x) => expandBraces(head + x + tail));
    }
  }
  return [p];
}

const hasMagic = (s: string): boolean => /[*?[]/.test(s);

/** One path component's pattern as a RegExp (fnmatch without FNM_PERIOD subtleties beyond a leading dot). */
export function componentRegExp(pat: string): RegExp {
  let re = '';
  for (let i = 0; i < pat.length; i++) {
    const c = pat[i]!;
    if (c === '\\' && i + 1 < pat.length) re += pat[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pat.indexOf(']', i + 2);
      if (end < 0) { re += '\\['; continue; }
      let set = pat.slice(i + 1, end);
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      re += `[${set.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export interface DirLister {
  /** Names in a directory (not . or ..), or undefined if it cannot be read. */
  list(dir: string): string[] | undefined;
  /** Whether a path exists (for components without wildcards). */
  exists(path: string): boolean;
}

/** Absolute pattern → matching paths, each brace alternative's matches sorted, in order. */
export function glob(pattern: string, fs: DirLister): string[] {
  const out: string[] = [];
  const join = (base: string, name: string): string => (base === '' ? name : base.endsWith('/') ? base + name : `${base}/${name}`);
  for (const alt of expandBraces(pattern)) {
    let paths = [alt.startsWith('/') ? '/' : ''];
    for (const part of alt.split('/').filter((p) => p !== '')) {
      const next: string[] = [];
      for (const base of paths) {
        if (!hasMagic(part)) {
          const p = join(base, part.replace(/\\(.)/g, '$1'));
          if (fs.exists(p)) next.push(p);
          continue;
        }
        const re = componentRegExp(part);
        for (const name of (fs.list(base || '.') ?? []).sort()) {
          if (name.startsWith('.') && !part.startsWith('.')) continue;
          if (re.test(name)) next.push(join(base, name));
        }
      }
      paths = next;
    }
    out.push(...paths.sort());
  }
  return out;
}
