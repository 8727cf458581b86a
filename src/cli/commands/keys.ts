import type { Command } from 'commander';
import { ROLE_MEANINGS, ROLES, isRole } from '../../core/roles.js';
import { WaymarkError } from '../../core/errors.js';
import { createKey } from '../../server/auth/credentials.js';
import type { ApiKeyRecord } from '../../store/types.js';
import { DB_HELP } from '../args.js';
import { UsageError } from '../errors.js';
import { printJson, table, time } from '../format.js';
import { withStore } from '../open-engine.js';

interface KeyFlags {
  db?: string;
  json?: boolean;
}

const ROLE_HELP = ROLES.map((role) => `${role}: ${ROLE_MEANINGS[role]}`).join('; ');

/**
 * `waymark keys create | list | revoke`: API keys of a server with --auth, kept in the store (secrets only as
 * hashes). Works on the store directly (--db), like the other store commands; the store must exist.
 */
export function keysCommand(program: Command): void {
  const keys = program.command('keys').description('API keys for `waymark server --auth` (create, list, revoke)');

  keys
    .command('create')
    .description(`make a key and print its id and secret, once (roles: ${ROLE_HELP})`)
    .requiredOption('--role <role>', `what the key may do: ${ROLES.join(', ')}`)
    .option('--name <text>', "what the key is for, shown in lists and in the audit trail (default: '')")
    .option('--db <store>', DB_HELP)
    .option('--json', 'print { keyId, keySecret, role, name } as JSON')
    .action(async (flags: KeyFlags & { role: string; name?: string }) => {
      if (!isRole(flags.role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got '${flags.role}'`);
      if (flags.name !== undefined && flags.name.trim() === '') throw new UsageError('--name needs a text');
      const created = await withStore(flags, (store) =>
        createKey(store.keys, { role: flags.role, name: flags.name }).catch((error: unknown) => {
          throw error instanceof WaymarkError && error.code === 'E_INVALID_INPUT'
            ? new UsageError(`--name: ${error.message}`)
            : error;
        }),
      );
      if (flags.json) return printJson(created);
      process.stdout.write(
        `key ${created.keyId} (${created.role}${created.name ? `, ${created.name}` : ''})\n` +
          `secret ${created.keySecret}\n` +
          'The secret is shown only now: keep it. Send it as X-Authorization or Authorization: Bearer ' +
          `${created.keyId}:<secret>, or get a token from POST /api/token with { keyId, keySecret }.\n`,
      );
    });

  keys
    .command('list')
    .description('list the keys (revoked ones included; secrets are never shown)')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the keys as a JSON array')
    .action(async (flags: KeyFlags) => {
      const listed = (await withStore(flags, (store) => store.keys.listKeys())).map(shown);
      if (flags.json) return printJson(listed);
      if (listed.length === 0) return void process.stdout.write('(no keys: make one with `keys create`)\n');
      const rows = listed.map((k) => [k.keyId, k.role, k.status, time(new Date(k.createdAt)), k.name]);
      process.stdout.write(`${table(['key', 'role', 'status', 'created', 'name'], rows)}\n`);
    });

  keys
    .command('revoke')
    .description('revoke a key: its secret and its tokens stop working within seconds, on every server')
    .argument('<keyId>', 'the key to revoke')
    .option('--db <store>', DB_HELP)
    .option('--json', 'print the revoked key as JSON')
    .action(async (keyId: string, flags: KeyFlags) => {
      const revoked = await withStore(flags, (store) => store.keys.revokeKey(keyId));
      if (!revoked)
        throw new WaymarkError('E_KEY_NOT_FOUND', `no key '${keyId}': \`keys list\` shows the keys`, {
          details: { keyId },
        });
      if (flags.json) return printJson(shown(revoked));
      process.stdout.write(`key ${revoked.keyId} revoked at ${revoked.revokedAt!.toISOString()}\n`);
    });
}

/** A key as the CLI shows it: everything but its hash. */
function shown(key: ApiKeyRecord) {
  return {
    keyId: key.keyId,
    name: key.name,
    role: key.role,
    status: key.revokedAt ? 'revoked' : 'active',
    createdAt: key.createdAt.toISOString(),
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}
