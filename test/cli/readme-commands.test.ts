import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { KEY_HELP, SERVER_HELP } from '../../src/cli/server-client.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Every verb `--help` lists: `top` for a command that acts itself, `top sub` for each subcommand. */
function helpVerbs(program: Command): Map<string, Command> {
  const verbs = new Map<string, Command>();
  for (const top of program.commands) {
    const acts = (top as unknown as { _actionHandler: unknown })._actionHandler != null;
    if (top.commands.length === 0 || acts) verbs.set(top.name(), top);
    for (const sub of top.commands) verbs.set(`${top.name()} ${sub.name()}`, sub);
  }
  return verbs;
}

/** The rows of the README's command table: the code spans of each row's first cell. */
function tableSpans(): string[] {
  const section = README.split('## The `waymark` command')[1]?.split('\n## ')[0];
  assert.ok(section, 'the README has a section "The `waymark` command"');
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  assert.ok(rows.length > 10, 'the section has a command table');
  return rows.flatMap((row) => {
    const cell = row.split(/(?<!\\)\|/)[1] ?? '';
    return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  });
}

/** The verbs one code span names (`waymark runs get <run>`: runs get; `rollout promote \\| pause <w>`: two). */
function spanVerbs(span: string): string[] {
  const tokens = span
    .replace(/\\\|/g, ' | ')
    .split(/\s+/)
    .filter((t) => t !== '');
  if (tokens[0] === 'waymark') tokens.shift();
  const [top, ...rest] = tokens;
  assert.ok(top && /^[a-z-]+$/.test(top), `'${span}' names a command`);
  const subs: string[] = [];
  for (let i = 0; i < rest.length && /^[a-z][a-z-]*$/.test(rest[i]!); i += 2) {
    subs.push(rest[i]!);
    if (rest[i + 1] !== '|') break;
  }
  return subs.length === 0 ? [top] : subs.map((sub) => `${top} ${sub}`);
}

/** The options the table gives each verb: those in the code spans that name it. */
function tableOptions(): Map<string, Set<string>> {
  const options = new Map<string, Set<string>>();
  for (const span of tableSpans())
    for (const verb of spanVerbs(span)) {
      const known = options.get(verb) ?? new Set<string>();
      for (const match of span.matchAll(/(?<![\w-])--?[a-zA-Z][a-z-]*/g)) known.add(match[0]);
      options.set(verb, known);
    }
  return options;
}

/** Options the section documents once for many commands, below the table, instead of in each row. */
const SHARED = ['--db', '--json', '--reason', '--actor', '--server', '--key'];

test("the README's command table names exactly the verbs --help lists", () => {
  const help = helpVerbs(buildProgram());
  const table = tableOptions();
  const missing = [...help.keys()].filter((verb) => !table.has(verb)).sort();
  const unknown = [...table.keys()].filter((verb) => !help.has(verb)).sort();
  assert.deepEqual(missing, [], `verbs of --help missing from the README table: ${missing.join(', ')}`);
  assert.deepEqual(unknown, [], `README table rows no command has: ${unknown.join(', ')}`);
});

test("each verb's row in the README's command table gives exactly the options its --help lists", () => {
  const section = README.split('## The `waymark` command')[1]!.split('\n## ')[0]!;
  const prose = section
    .split('\n')
    .filter((line) => !line.startsWith('|'))
    .join('\n');
  for (const option of SHARED)
    assert.ok(prose.includes(`\`${option}`), `the section says which commands take ${option}`);
  const table = tableOptions();
  const problems: string[] = [];
  for (const [verb, command] of helpVerbs(buildProgram())) {
    const options = command.options.filter((o) => !SHARED.includes(o.long!));
    const rows = table.get(verb) ?? new Set<string>();
    const absent = options.filter((o) => !rows.has(o.long!) && !(o.short && rows.has(o.short))).map((o) => o.long);
    const named = (flag: string) => command.options.some((o) => o.long === flag || o.short === flag);
    const extra = [...rows].filter((o) => !named(o) && !SHARED.includes(o));
    if (absent.length > 0) problems.push(`${verb}: --help has ${absent.join(' ')}, the table not`);
    if (extra.length > 0) problems.push(`${verb}: the table has ${extra.join(' ')}, --help not`);
  }
  assert.deepEqual(problems, []);
});

/** Every leaf command (one that runs an action) with its full name. */
function leaves(command: Command, prefix = ''): { name: string; command: Command }[] {
  return command.commands.flatMap((sub) => {
    const name = `${prefix}${sub.name()}`;
    return [{ name, command: sub }, ...leaves(sub, `${name} `)];
  });
}

test('every command that talks to a server takes the same connection options, with the same help', () => {
  const clients = leaves(buildProgram()).filter(({ command }) =>
    command.options.some((o) => o.long === '--server' || o.long === '--key'),
  );
  const names = clients.map((c) => c.name);
  for (const verb of ['task create', 'task list', 'task poll', 'workflow start', 'workflow search'])
    assert.ok(names.includes(verb), `${verb} talks to a server`);
  for (const { name, command } of clients) {
    const server = command.options.find((o) => o.long === '--server');
    const key = command.options.find((o) => o.long === '--key');
    assert.equal(server?.flags, '--server <url>', `${name} takes --server <url>`);
    assert.equal(server?.description, SERVER_HELP, `${name}'s --server help`);
    assert.equal(key?.flags, '--key <key>', `${name} takes --key <key>`);
    assert.equal(key?.description, KEY_HELP, `${name}'s --key help`);
  }
  for (const { name } of leaves(buildProgram()).filter((l) => /^(task|workflow) /.test(l.name)))
    assert.ok(names.includes(name), `${name} (a server verb) takes --server and --key`);
});
