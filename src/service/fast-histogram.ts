import type { Metric, Registry } from 'prom-client';

/** One exposition line as prom-client's Registry reads it: `labels` are formatted first, then `sharedLabels`. */
interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
}

/**
 * The counts of one label set. Hot paths look a series up once (or keep it) and observe into it:
 * a bucket search over a few bounds and three additions, where prom-client's `observe(labels, v)`
 * validates and hashes the label object on every call (~0.5 µs each, several per request).
 */
export class HistogramSeries {
  /** Per bucket, not cumulative; the last slot counts values above the largest bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    // prom-client refuses non-finite values (it throws); a metric must never fail a request.
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

export interface FastHistogramConfiguration<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  buckets: readonly number[];
  registers: Registry[];
}

/**
 * A Prometheus histogram with the exposition of prom-client's `Histogram` (same lines, same
 * order), registered on a prom-client `Registry` as a custom metric. A label set's series is found
 * by its values (one string key, no label object to validate or hash); callers may keep it.
 */
export class FastHistogram<L extends string = string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly L[];
  private readonly bounds: readonly number[];
  private bySet = new Map<string, HistogramSeries>();

  constructor(config: FastHistogramConfiguration<L>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames ?? [];
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of one label set, values in `labelNames` order (created empty on first use). */
  series(...values: string[]): HistogramSeries {
    const key = values.length === 1 ? values[0] : values.join('\u0000');
    let series = this.bySet.get(key);
    if (!series) {
      if (values.length !== this.labelNames.length) throw new Error(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i]));
      series = new HistogramSeries(labels, this.bounds);
      this.bySet.set(key, series);
    }
    return series;
  }

  /** Every label set observed so far, in first-use order. */
  all(): IterableIterator<HistogramSeries> {
    return this.bySet.values();
  }

  reset(): void {
    this.bySet = new Map();
  }

  /** What prom-client's Registry formats (`_bucket` lines with `le`, then `_sum` and `_count`). */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.bySet.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i];
        values.push({ labels: { le: this.bounds[i] }, sharedLabels: s.labels, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}
