/** The hot-path counters and histograms render as Prometheus expects through prom-client's registry. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../src/observability/counting.js';

test('a histogram renders cumulative buckets (value <= le), +Inf, sum and count; a counter its children', async () => {
  const registry = new Registry();
  const histogram = new FastHistogram('x_seconds', 'x', ['kind'], [1, 2], registry);
  for (const value of [0.5, 1, 1.5, 3]) histogram.child('a').observe(value);
  const counter = new FastCounter('y_total', 'y', ['kind', 'result'], registry);
  counter.child('a', 'ok').inc();
  counter.child('a', 'ok').inc(2);
  counter.child('b', 'no "quotes"').inc();
  assert.equal(
    await registry.metrics(),
    [
      '# HELP x_seconds x',
      '# TYPE x_seconds histogram',
      'x_seconds_bucket{kind="a",le="1"} 2',
      'x_seconds_bucket{kind="a",le="2"} 3',
      'x_seconds_bucket{kind="a",le="+Inf"} 4',
      'x_seconds_sum{kind="a"} 6',
      'x_seconds_count{kind="a"} 4',
      '',
      '# HELP y_total y',
      '# TYPE y_total counter',
      'y_total{kind="a",result="ok"} 3',
      'y_total{kind="b",result="no \\"quotes\\""} 1',
      '',
    ].join('\n'),
  );
  registry.resetMetrics();
  assert.equal(
    await registry.metrics(),
    '# HELP x_seconds x\n# TYPE x_seconds histogram\n\n# HELP y_total y\n# TYPE y_total counter\n',
  );
});
