// The Grafana dashboard (docs/grafana/duet.json) read back for tests: its PromQL queries, the
// duet metrics and labels each one uses, and what a live daemon's scrape lacks of them. This is
// what keeps the dashboard from rotting when a metric or label is renamed.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DASHBOARD_FILE = fileURLToPath(new URL('../../docs/grafana/duet.json', import.meta.url));

export interface Query { panel: string; expr: string; legend: string }

interface Panel { title?: string; type?: string; targets?: Array<{ expr?: string; legendFormat?: string }>; panels?: Panel[] }

export function dashboardQueries(text = readFileSync(DASHBOARD_FILE, 'utf8')): Query[] {
  const d = JSON.parse(text) as { panels?: Panel[]; templating?: { list?: Array<{ definition?: string }> } };
  const out: Query[] = [];
  const walk = (ps: Panel[] | undefined): void => {
    for (const p of ps ?? []) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title ?? '?', expr: t.expr, legend: t.legendFormat ?? '' });
      walk(p.panels);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) if (v.definition) out.push({ panel: 'template variable', expr: v.definition, legend: '' });
  return out;
}

/** Labels Prometheus adds at scrape time, and label_values()' own argument: not the exporter's. */
const TARGET_LABELS = new Set(['instance', 'job']);
const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

/** The duet metric names a query reads, and the labels it names (matchers, by/on/ignoring, legend). */
export function uses(q: Query): { metrics: string[]; labels: string[] } {
  const metrics = [...new Set([...q.expr.matchAll(/\bduet_[a-z0-9_]+/g)].map((m) => m[0]))];
  const labels = new Set<string>();
  for (const m of q.expr.matchAll(/\{([^}]*)\}/g)) for (const l of m[1]!.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)) labels.add(l[1]!);
  for (const m of q.expr.matchAll(/\b(?:by|on|ignoring|without)\s*\(([^)]*)\)/g)) for (const l of m[1]!.split(',')) if (l.trim()) labels.add(l.trim());
  for (const m of q.legend.matchAll(/\{\{\s*([a-z_]+)\s*\}\}/g)) labels.add(m[1]!);
  for (const m of q.expr.matchAll(/label_values\(\s*duet_[a-z0-9_]+\s*,\s*([a-z_]+)\s*\)/g)) labels.add(m[1]!);
  return { metrics, labels: [...labels].filter((l) => !TARGET_LABELS.has(l) && l !== 'le') };
}

/** A Prometheus text exposition: declared metric families, and the label names seen per family. */
export function parseExposition(text: string): Map<string, Set<string>> {
  const fams = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) \S+/.exec(line);
    if (t) { if (!fams.has(t[1]!)) fams.set(t[1]!, new Set()); continue; }
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!s) continue;
    const fam = fams.has(s[1]!) ? s[1]! : s[1]!.replace(HISTOGRAM_SUFFIX, '');
    const set = fams.get(fam) ?? new Set<string>();
    fams.set(fam, set);
    for (const l of (s[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) set.add(l[1]!);
  }
  return fams;
}

/**
 * What the dashboard needs that the scrapes do not show: a metric no scrape declares, or a label
 * that no sample of the metric carries (checked only where some scrape has samples of it, since
 * a family with nothing to report, such as drops that never happened, has no samples to read).
 */
export function missing(queries: readonly Query[], scrapes: readonly string[]): string[] {
  const fams = new Map<string, { declared: boolean; sampled: boolean; labels: Set<string> }>();
  for (const text of scrapes) {
    for (const [name, labels] of parseExposition(text)) {
      const f = fams.get(name) ?? { declared: false, sampled: false, labels: new Set<string>() };
      f.declared = true;
      if (labels.size > 0 || new RegExp(`^${name}(_bucket|_sum|_count)? `, 'm').test(text)) f.sampled = true;
      for (const l of labels) f.labels.add(l);
      fams.set(name, f);
    }
  }
  const problems: string[] = [];
  for (const q of queries) {
    const u = uses(q);
    if (u.metrics.length === 0) problems.push(`${q.panel}: no duet metric in '${q.expr}'`);
    for (const m of u.metrics) {
      const name = fams.has(m) ? m : m.replace(HISTOGRAM_SUFFIX, '');
      const f = fams.get(name);
      if (!f) { problems.push(`${q.panel}: ${m} is not exported`); continue; }
      if (!f.sampled) continue;
      // A label must exist on at least one of the query's metrics (on() and legends may span several).
      for (const l of u.labels) {
        const anyHas = u.metrics.some((mm) => fams.get(fams.has(mm) ? mm : mm.replace(HISTOGRAM_SUFFIX, ''))?.labels.has(l));
        if (!anyHas) problems.push(`${q.panel}: no sample of ${u.metrics.join(', ')} has the label '${l}'`);
      }
    }
  }
  return [...new Set(problems)];
}
