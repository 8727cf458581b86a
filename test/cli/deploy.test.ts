import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine, type DeployCheckReport, type DeployPlan } from '../../src/index.js';
import { orderV1 } from '../fixtures/versioned-workflows.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileWorkflowDef, declarativeSupport } from '../../src/declarative/compile.js';
import { parseWorkflowDef } from '../../src/declarative/definitions.js';
import { runUntil, tempDb, tempDir } from '../helpers.js';
import { cli } from './cli-process.js';

test(
  'deploy check exits 0 for a candidate every in-flight run replays, ' +
    '1 for one that breaks them, and registers nothing',
  async () => {
    const db = tempDb();
    const worker = await Engine.open({ store: `sqlite:${db}`, workflows: [orderV1] });
    try {
      const run = await worker.start('versioned-order', { id: 'o-1' }, { id: 'o-1' });
      await runUntil(worker, run.id, (r) => r.status === 'waiting');

      const safe = await cli(['deploy', 'check', '--workflows', 'test/fixtures/deploy-candidates.ts', '--db', db]);
      assert.equal(safe.code, 0, safe.stderr);
      assert.match(safe.stdout, /^versioned-order v2 \(new version\): additive$/m);
      assert.match(safe.stdout, /keeps the old branch of patch gate\(s\) early-check/);
      assert.match(safe.stdout, /^SAFE: every in-flight run replays the candidate code/m);

      const breaking = await cli([
        'deploy',
        'check',
        '--workflows',
        'test/fixtures/versioned-workflows.ts',
        '--workflow',
        'versioned-order',
        '--db',
        db,
        '--json',
      ]);
      assert.equal(breaking.code, 1, breaking.stderr);
      const report = JSON.parse(breaking.stdout) as DeployCheckReport;
      const byVersion = Object.fromEntries(
        report.workflows.map((w) => [w.candidate.version, [w.classification, w.inFlight.map((r) => r.verdict)]]),
      );
      assert.deepEqual(byVersion, {
        1: ['unchanged', []],
        2: ['additive', ['compatible']],
        3: ['breaking', ['incompatible']],
      });

      const versions = (await worker.versions()).filter((v) => v.workflow === 'versioned-order').map((v) => v.version);
      assert.deepEqual(versions, [1], 'a check registers no candidate version');
      const kept = await worker.deployReports();
      assert.deepEqual(
        kept.map((r) => [r.kind, r.source, (r.summary as { safe: boolean }).safe]),
        [
          ['check', 'cli', false],
          ['check', 'cli', true],
        ],
        'each CLI check is kept as a deploy report, newest first',
      );
      assert.equal(typeof kept[0]!.actor, 'string');
      assert.deepEqual((await worker.deployReport(kept[0]!.id)).report, JSON.parse(JSON.stringify(report)));
      const bad = await cli([
        'deploy',
        'check',
        '--workflows',
        'test/fixtures/deploy-candidates.ts',
        '--sample-completed',
        'x',
        '--db',
        db,
      ]);
      assert.equal(bad.code, 2);
    } finally {
      await worker.close();
    }
  },
);

test('deploy plan prints the runbook (text and JSON) and exits 1 when some in-flight run would break', async () => {
  const db = tempDb();
  const worker = await Engine.open({ store: `sqlite:${db}`, workflows: [orderV1], rolloutCheckMs: 0 });
  try {
    const run = await worker.start('versioned-order', { id: 'p-1' }, { id: 'p-1' });
    await runUntil(worker, run.id, (r) => r.status === 'waiting');
    const args = [
      'deploy',
      'plan',
      '--workflows',
      'test/fixtures/versioned-workflows.ts',
      '--workflow',
      'versioned-order',
      '--db',
      db,
    ];
    const text = await cli(args);
    assert.equal(text.code, 1, text.stderr);
    assert.match(
      text.stdout,
      /^versioned-order -> v3: NOT SAFE \(breaking\): 1 of 1 in-flight runs would break on v3/m,
    );
    assert.match(
      text.stdout,
      new RegExp(
        /seq 0: history has step 'a', v3 asks for signal 'go' \(1 run\(s\) on v1\); /.source +
          /gate at signal 'go':\n\s+if \(ctx\.patched\('versioned-order-v3-go'\)\) \{/.source,
      ),
    );
    assert.match(
      text.stdout,
      /^\s+v1: 1 in flight: upgrade 0, migrate 0, drain 1 \(1 wait with no deadline: ETA unknown\)$/m,
    );
    assert.match(
      text.stdout,
      /^\s+\d\. waymark rollout start versioned-order --to 3 --from 1 --percent 5 --step 25 --every 10m/m,
    );
    assert.match(text.stdout, /^VERDICT: NOT SAFE/m);
    const json = await cli([...args, '--json']);
    const plan = JSON.parse(json.stdout) as DeployPlan;
    const v2 = plan.workflows.find((w) => w.candidate === 2)!;
    assert.deepEqual([v2.check.classification, v2.inFlight[0]!.upgrade, v2.divergences], ['additive', 1, []]);
    assert.ok(v2.steps.some((s) => s.includes('waymark rollout upgrade versioned-order --from 1 --to 2')));
    assert.deepEqual(plan.workflows.map((w) => w.candidate).sort(), [2, 3], 'the unchanged v1 needs no plan');
  } finally {
    await worker.close();
  }
});

test(
  'deploy check of declarative definitions: ' + 'replay verdicts plus the structural diff against the registered graph',
  async () => {
    const db = tempDb();
    const support = await declarativeSupport();
    const v1 = JSON.parse(readFileSync('examples/conductor-onboarding/customer_onboarding.v1.json', 'utf8'));
    const worker = await Engine.open({ store: `sqlite:${db}`, compile: support.compile, rolloutCheckMs: 0 });
    support.bind(worker);
    try {
      await worker.definitions.register([compileWorkflowDef(parseWorkflowDef(v1), support.env)]);
      const run = await worker.start('customer_onboarding', { customerId: 'c-1' });
      await runUntil(worker, run.id, (r) => r.status === 'waiting');
    } finally {
      await worker.close();
    }
    const v2 = await cli([
      'deploy',
      'check',
      '--definitions',
      'examples/conductor-onboarding/customer_onboarding.v2.json',
      '--db',
      db,
      '--json',
    ]);
    assert.equal(v2.code, 0, v2.stderr);
    const report = JSON.parse(v2.stdout) as DeployCheckReport;
    const check = report.workflows[0]!;
    assert.deepEqual([check.candidate.version, check.classification, check.counts.compatible], [2, 'additive', 1]);
    assert.deepEqual([check.structure!.from, (check.structure!.diff as { kind: string }).kind], [1, 'additive']);
    assert.match(JSON.stringify(check.structure!.diff), /"ref":"risk"/);

    const dir = tempDir();
    const reordered = {
      ...v1,
      version: 3,
      tasks: [{ name: 'assign_risk_tier', taskReferenceName: 'risk', inputParameters: {} }, ...v1.tasks],
    };
    writeFileSync(join(dir, 'v3.json'), JSON.stringify(reordered));
    const breaking = await cli(['deploy', 'check', '--definitions', join(dir, 'v3.json'), '--db', db]);
    assert.equal(breaking.code, 1);
    assert.match(breaking.stdout, /customer_onboarding v3 \(new version\): breaking, not safe/);
    assert.match(breaking.stdout, /graph vs v1: breaking/);
    assert.equal((await cli(['deploy', 'check', '--db', db])).code, 2, 'no candidates given');
  },
);
