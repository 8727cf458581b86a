/**
 * The Grafana dashboard in examples/grafana/waymark.json is valid JSON, is filtered by workflow and version, and
 * charts only metrics an engine exports (a renamed metric fails here, not on someone's wall screen).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Engine } from '../../src/index.js';
import { tempDb } from '../helpers.js';

const DASHBOARD = new URL('../../examples/grafana/waymark.json', import.meta.url);

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

test('the Grafana dashboard charts waymark_* metrics an engine exports, per workflow version', async () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: Panel[];
    templating: { list: { name: string }[] };
  };
  assert.deepEqual(
    dashboard.templating.list.map((v) => v.name),
    ['workflow', 'version'],
  );
  const charts = dashboard.panels.filter((p) => p.type !== 'row');
  assert.ok(charts.length >= 15, `${charts.length} panels`);
  const engine = await Engine.open({ store: `sqlite:${tempDb()}`, worker: false, logger: { warn() {} } });
  let exported: string[];
  try {
    exported = engine.metrics.registry.getMetricsAsArray().map((m) => m.name);
  } finally {
    await engine.close();
  }
  const charted = new Set<string>();
  for (const panel of charts) {
    assert.ok(panel.targets && panel.targets.length > 0, `${panel.title} has a query`);
    for (const { expr } of panel.targets)
      for (const [name] of expr.matchAll(/waymark_[a-z_]+/g)) charted.add(name.replace(/_(bucket|sum|count)$/, ''));
  }
  assert.deepEqual(
    [...charted].filter((name) => !exported.includes(name)),
    [],
    'every charted metric is exported',
  );
  const golden = charts.filter((p) => /by version/.test(p.title));
  assert.ok(golden.length >= 4);
  for (const panel of golden)
    assert.ok(
      panel.targets!.every((t) => /by \([^)]*version[^)]*\)/.test(t.expr) && t.expr.includes('$version')),
      `${panel.title} is split and filtered by version`,
    );
});
