import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { WaymarkError } from '../../core/errors.js';
import { checkStorableText } from '../../core/json.js';
import { isRole, ROLES, type Role } from '../../core/roles.js';
import type { KeyStore } from '../../store/types.js';

/** A key as its creator sees it, once: the secret is never stored nor shown again. */
export interface NewKeyCredentials {
  keyId: string;
  keySecret: string;
  role: Role;
  name: string;
}

/** Longest key name. */
export const MAX_KEY_NAME = 200;

/** 'sha256:<hex>' of a secret: what the store keeps instead of it. */
export function hashSecret(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}

/** Whether `secret` hashes to `stored`, compared in constant time. */
export function secretMatches(secret: string, stored: string): boolean {
  const given = Buffer.from(hashSecret(secret), 'utf8');
  const kept = Buffer.from(stored, 'utf8');
  return given.length === kept.length && timingSafeEqual(given, kept);
}

/**
 * Makes a key of `role` and stores it (its secret only as a hash): a random key id and a secret of 32 random
 * bytes. Bad input (an unknown role, a name that cannot be stored) is E_INVALID_INPUT and stores nothing.
 */
export async function createKey(keys: KeyStore, options: { role: string; name?: string }): Promise<NewKeyCredentials> {
  const { role } = options;
  if (!isRole(role))
    throw new WaymarkError('E_INVALID_INPUT', `role must be one of ${ROLES.join(', ')}, got '${String(role)}'`);
  const name = (options.name ?? '').trim();
  checkStorableText(name, 'key name');
  if (name.length > MAX_KEY_NAME)
    throw new WaymarkError('E_INVALID_INPUT', `key name must be at most ${MAX_KEY_NAME} characters`);
  for (;;) {
    const keyId = `wmk_${randomBytes(9).toString('base64url')}`;
    const keySecret = randomBytes(32).toString('base64url');
    // A taken id (72 random bits: not in practice) draws another.
    if (await keys.createKey({ keyId, name, role, secretHash: hashSecret(keySecret) }))
      return { keyId, keySecret, role, name };
  }
}

/** How a request authenticates: an access token, or a key's id and secret given directly. */
export type Credential = { kind: 'token'; token: string } | { kind: 'key'; keyId: string; keySecret: string };

/**
 * The credential of a request: `X-Authorization: <token>` (Conductor's header), else `Authorization: Bearer
 * <token>`; either may carry `<keyId>:<keySecret>` instead of a token. Undefined when there is none.
 */
export function credentialOf(headers: Record<string, string | string[] | undefined>): Credential | undefined {
  const conductor = single(headers['x-authorization']);
  const bearer = /^\s*bearer\s+(\S+)\s*$/i.exec(single(headers.authorization) ?? '')?.[1];
  const given = (conductor?.replace(/^\s*bearer\s+/i, '') ?? bearer)?.trim();
  if (!given) return undefined;
  const colon = given.indexOf(':');
  if (colon < 0) return { kind: 'token', token: given };
  return { kind: 'key', keyId: given.slice(0, colon), keySecret: given.slice(colon + 1) };
}

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
