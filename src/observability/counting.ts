/**
 * Counters and histograms whose hot path is plain arithmetic on a labelled child found once: the kernel counts
 * every step and commit, and prom-client's own metrics hash their labels on every call. A scrape reads them
 * through prom-client's registry (they implement what it asks of a metric: name, help, type, get, reset).
 */
import type { Metric, Registry } from 'prom-client';

/** One label set of a counter: `inc` it. */
export class CounterChild {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

/** One label set of a histogram: counts per bucket (not cumulative), sum and count. */
export class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Counts `value` in the first bucket whose bound it does not exceed (the last: +Inf). */
  observe(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

type Labels = Record<string, string>;

/** A metric of labelled children, registered on `registry` under `name`. */
abstract class Family<C> {
  readonly aggregator = 'sum';
  private readonly children = new Map<string, { labels: Labels; child: C }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  protected abstract make(): C;

  /** The child of these label values (in labelNames' order), made on first use. */
  child(...values: string[]): C {
    const key = values.join('\u0000');
    let entry = this.children.get(key);
    if (!entry) {
      const labels: Labels = {};
      this.labelNames.forEach((name, i) => {
        labels[name] = values[i]!;
      });
      entry = { labels, child: this.make() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  protected entries(): { labels: Labels; child: C }[] {
    return [...this.children.values()];
  }

  /** Forgets every child (prom-client's registry.resetMetrics). */
  reset(): void {
    this.children.clear();
  }
}

export class FastCounter extends Family<CounterChild> {
  readonly type = 'counter';

  protected make(): CounterChild {
    return new CounterChild();
  }

  async get() {
    const values = this.entries().map(({ labels, child }) => ({ labels, value: child.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class FastHistogram extends Family<HistogramChild> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  protected make(): HistogramChild {
    return new HistogramChild(this.bounds);
  }

  /** Cumulative buckets with their `le`, then the sum and the count, per child (Prometheus' histogram lines). */
  async get() {
    const values: { labels: Labels; value: number; metricName: string }[] = [];
    for (const { labels, child } of this.entries()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += child.counts[i]!;
        values.push({ labels: { ...labels, le: String(bound) }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: child.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: child.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
