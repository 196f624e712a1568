/**
 * Prometheus metrics in the text exposition format: counters, gauges read at scrape
 * time, and histograms with fixed buckets. Small on purpose: a handful of series an
 * operator alerts on.
 */

type Labels = Record<string, string>;

const escape = (v: string) => (/[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v);

// Built on every request: a plain loop, and escaping only when a value needs it.
const key = (labels: Labels) => {
  let k = '';
  for (const name in labels) k += `${k ? ',' : ''}${name}="${escape(labels[name]!)}"`;
  return k;
};

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}
  abstract lines(): Promise<string[]>;
}

export class Counter extends Metric {
  private readonly values = new Map<string, number>();

  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  async lines(): Promise<string[]> {
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${v}`);
  }
}

/** A gauge whose values are read when scraped. */
export class Gauge extends Metric {
  constructor(
    name: string,
    help: string,
    private readonly read: () => Promise<[Labels, number][]>,
  ) {
    super(name, help, 'gauge');
  }

  async lines(): Promise<string[]> {
    return (await this.read()).map(([labels, v]) => `${this.name}${Object.keys(labels).length ? `{${key(labels)}}` : ''} ${v}`);
  }
}

export class Histogram extends Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();

  constructor(
    name: string,
    help: string,
    private readonly buckets: number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  ) {
    super(name, help, 'histogram');
  }

  observe(labels: Labels, seconds: number): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    // Counted in the first bucket that holds the value; the cumulative counts are summed when rendered.
    let i = 0;
    while (i < this.buckets.length && seconds > this.buckets[i]!) i++;
    if (i < this.buckets.length) s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  async lines(): Promise<string[]> {
    const out: string[] = [];
    for (const [k, s] of this.series) {
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

  readonly requests = this.add(new Counter('wps_requests_total', 'WPS requests by operation and outcome (exception code, or ok)'));
  readonly requestSeconds = this.add(new Histogram('wps_request_duration_seconds', 'Time to answer WPS requests, by operation'));
  readonly schedulerSeconds = this.add(new Histogram('wps_scheduler_command_duration_seconds', 'Scheduler commands (submit, status, terminate) by scheduler'));
  readonly schedulerFailures = this.add(new Counter('wps_scheduler_command_failures_total', 'Scheduler commands that failed, by scheduler and command'));

  add<M extends Metric>(m: M): M {
    this.all.push(m);
    return m;
  }

  async render(): Promise<string> {
    const out: string[] = [];
    for (const m of this.all) {
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...(await m.lines()));
    }
    return `${out.join('\n')}\n`;
  }
}
