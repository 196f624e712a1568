/**
 * Prometheus metrics in the text exposition format: counters, gauges read at scrape
 * time, and histograms with fixed buckets. Small on purpose: a handful of series an
 * operator alerts on.
 */

type Labels = Record<string, string>;
/** Label values in the order of the metric's label names; numbers (an HTTP status) as they are. */
type LabelValues = readonly (string | number)[];

const escape = (v: string) => (/[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v);

const labelText = (names: readonly string[], values: LabelValues) => names.map((n, i) => `${n}="${escape(String(values[i]))}"`).join(',');

/**
 * The series of one metric by label values, found through one Map per label. Counting a
 * request builds no key string: one did, and with the labels object it came from that
 * cost about 2 µs a request on this machine (a tenth of answering GetCapabilities).
 */
class SeriesTable<S> {
  private readonly root = new Map<string | number, unknown>();
  private single: S | undefined;
  readonly rows: { labels: string; series: S }[] = [];

  constructor(
    private readonly names: readonly string[],
    private readonly create: () => S,
  ) {}

  get(values: LabelValues): S {
    if (this.names.length === 0) return (this.single ??= this.add(values));
    let node = this.root;
    const last = this.names.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]!) as Map<string | number, unknown> | undefined;
      if (next === undefined) node.set(values[i]!, (next = new Map()));
      node = next;
    }
    let series = node.get(values[last]!) as S | undefined;
    if (series === undefined) node.set(values[last]!, (series = this.add(values)));
    return series;
  }

  private add(values: LabelValues): S {
    const series = this.create();
    this.rows.push({ labels: labelText(this.names, values), series });
    return series;
  }
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}
  abstract lines(): Promise<string[]>;
}

export class Counter extends Metric {
  private readonly table: SeriesTable<{ value: number }>;

  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, 'counter');
    this.table = new SeriesTable(labelNames, () => ({ value: 0 }));
  }

  inc(values: LabelValues = [], by = 1): void {
    this.table.get(values).value += by;
  }

  async lines(): Promise<string[]> {
    return this.table.rows.map(({ labels, series }) => `${this.name}${labels ? `{${labels}}` : ''} ${series.value}`);
  }
}

/** A gauge whose values are read when scraped; `forAdmins`: shown only to an admin (it names users). */
export class Gauge extends Metric {
  constructor(
    name: string,
    help: string,
    private readonly read: () => Promise<[Labels, number][]>,
    readonly forAdmins = false,
  ) {
    super(name, help, 'gauge');
  }

  async lines(): Promise<string[]> {
    return (await this.read()).map(([labels, v]) => {
      const text = labelText(Object.keys(labels), Object.values(labels));
      return `${this.name}${text ? `{${text}}` : ''} ${v}`;
    });
  }
}

export class Histogram extends Metric {
  private readonly table: SeriesTable<{ counts: number[]; sum: number; count: number }>;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly buckets: number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  ) {
    super(name, help, 'histogram');
    this.table = new SeriesTable(labelNames, () => ({ counts: buckets.map(() => 0), sum: 0, count: 0 }));
  }

  observe(values: LabelValues, seconds: number): void {
    const s = this.table.get(values);
    // Counted in the first bucket that holds the value; the cumulative counts are summed when rendered.
    let i = 0;
    while (i < this.buckets.length && seconds > this.buckets[i]!) i++;
    if (i < this.buckets.length) s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  async lines(): Promise<string[]> {
    const out: string[] = [];
    for (const { labels: k, series: s } of this.table.rows) {
      const sep = k ? ',' : '';
      let cumulative = 0;
      this.buckets.forEach((b, i) => {
        cumulative += s.counts[i]!;
        out.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${cumulative}`);
      });
      out.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return out;
  }
}

export class Metrics {
  private readonly all: Metric[] = [];

  readonly requests = this.add(new Counter('wps_requests_total', 'WPS requests by operation and HTTP status', ['operation', 'code']));
  readonly requestSeconds = this.add(new Histogram('wps_request_duration_seconds', 'Time to answer WPS requests, by operation', ['operation']));
  readonly schedulerSeconds = this.add(new Histogram('wps_scheduler_command_duration_seconds', 'Scheduler commands (submit, status, terminate) by scheduler', ['scheduler', 'command']));
  readonly schedulerFailures = this.add(new Counter('wps_scheduler_command_failures_total', 'Scheduler commands that failed, by scheduler and command', ['scheduler', 'command']));

  add<M extends Metric>(m: M): M {
    this.all.push(m);
    return m;
  }

  /** The Prometheus text; series that name users only when `admin`. */
  async render(admin = false): Promise<string> {
    const out: string[] = [];
    for (const m of this.all) {
      if (m instanceof Gauge && m.forAdmins && !admin) continue;
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...(await m.lines()));
    }
    return `${out.join('\n')}\n`;
  }
}
