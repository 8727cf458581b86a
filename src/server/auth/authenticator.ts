import { randomBytes } from 'node:crypto';
import { WaymarkError } from '../../core/errors.js';
import { isRole, type Role } from '../../core/roles.js';
import { unstorableReason } from '../../core/text.js';
import type { ApiKeyRecord, Store } from '../../store/types.js';
import { type Credential, hashSecret, secretMatches } from './credentials.js';
import { signToken, verifyToken } from './tokens.js';

/** How a server authenticates callers (`waymark server --auth`). */
export interface AuthOptions {
  /** Where the keys, the token secret and the audit trail are kept: the engine's store. */
  store: Pick<Store, 'keys' | 'audit'>;
  /** How long a token from POST /api/token is accepted, in ms. (Default: 3600000, 1 h) */
  tokenTtlMs?: number;
  /** How long a key is trusted before it is read again (a revocation takes effect within it), in ms. (Default: 2000) */
  keyCacheMs?: number;
}

/** Who a request is: the key it authenticated with. */
export interface Identity {
  keyId: string;
  name: string;
  role: Role;
}

/** Why a credential was refused, in Conductor's words: the token (or key) is unknown, or it has expired. */
export type AuthRefusal = { ok: false; error: 'INVALID_TOKEN' | 'EXPIRED_TOKEN'; message: string };

export type AuthOutcome = { ok: true; identity: Identity } | AuthRefusal;

/** A token handed out by POST /api/token. */
export interface IssuedToken {
  token: string;
  identity: Identity;
  expiresAt: Date;
}

/** Longest key id looked up; longer ones are unknown without asking the store. */
const MAX_KEY_ID = 200;
/** Most keys remembered; past it the cache starts over (unknown ids are remembered too). */
const MAX_CACHED_KEYS = 10_000;
/** Compared against when a key id is unknown, so an unknown id and a wrong secret take the same time. */
const UNKNOWN_KEY_HASH = hashSecret(randomBytes(32).toString('base64url'));

/**
 * Checks credentials against the store's keys and hands out signed tokens. Keys are read at most once per
 * `keyCacheMs` each; the token secret once (the first process of a store makes it, every other reads it).
 */
export class Authenticator {
  readonly tokenTtlMs: number;
  readonly keyCacheMs: number;
  readonly store: AuthOptions['store'];
  private secret: Promise<string> | undefined;
  private readonly cache = new Map<string, { key: ApiKeyRecord | undefined; readAt: number }>();

  constructor(
    options: AuthOptions,
    /** The clock, in epoch ms. (Default: Date.now) */
    private readonly now: () => number = Date.now,
  ) {
    this.store = options.store;
    this.tokenTtlMs = options.tokenTtlMs ?? 3_600_000;
    this.keyCacheMs = options.keyCacheMs ?? 2_000;
    for (const [name, value, least] of [
      ['tokenTtlMs', this.tokenTtlMs, 1_000],
      ['keyCacheMs', this.keyCacheMs, 0],
    ] as const) {
      if (!Number.isInteger(value) || value < least)
        throw new WaymarkError('E_INVALID_INPUT', `auth option ${name} must be an integer >= ${least}, got ${value}`);
    }
  }

  /** A token for the key whose id and secret these are (read afresh: a revoked key gets none). */
  async issueToken(keyId: string, keySecret: string): Promise<IssuedToken | AuthRefusal> {
    const key = await this.keyOf(keyId, true);
    const checked = this.check(key, keySecret);
    if (!checked.ok) return checked;
    const now = this.now();
    // Epoch seconds, with their fraction: a token lives its TTL to the ms.
    const exp = (now + this.tokenTtlMs) / 1000;
    const token = signToken({ sub: keyId, iat: now / 1000, exp, iss: 'waymark' }, await this.tokenSecret());
    return { token, identity: checked.identity, expiresAt: new Date(now + this.tokenTtlMs) };
  }

  /** Who `credential` is, or why it is refused. */
  async authenticate(credential: Credential): Promise<AuthOutcome> {
    if (credential.kind === 'key') return this.check(await this.keyOf(credential.keyId), credential.keySecret);
    const claims = verifyToken(credential.token, await this.tokenSecret());
    if (!claims)
      return refusal('INVALID_TOKEN', 'the token is not one this server signed: get one from POST /api/token');
    if (Math.round(claims.exp * 1000) <= this.now())
      return refusal('EXPIRED_TOKEN', 'the token has expired: get a new one from POST /api/token');
    const key = await this.keyOf(claims.sub);
    if (!key) return refusal('INVALID_TOKEN', `the token's key '${claims.sub}' does not exist`);
    if (key.revokedAt) return refusal('INVALID_TOKEN', `the token's key '${key.keyId}' is revoked`);
    return identityOf(key);
  }

  /** The key's identity when `secret` is its secret and it is not revoked. */
  private check(key: ApiKeyRecord | undefined, secret: string): AuthOutcome {
    const matches = secretMatches(secret, key?.secretHash ?? UNKNOWN_KEY_HASH);
    if (!key || !matches) return refusal('INVALID_TOKEN', 'unknown key id, or wrong key secret');
    if (key.revokedAt) return refusal('INVALID_TOKEN', `key '${key.keyId}' is revoked`);
    return identityOf(key);
  }

  /** The key of that id: from the cache while it is fresh, else from the store. */
  private async keyOf(keyId: string, fresh = false): Promise<ApiKeyRecord | undefined> {
    if (keyId === '' || keyId.length > MAX_KEY_ID || unstorableReason(keyId)) return undefined;
    const cached = this.cache.get(keyId);
    const now = this.now();
    if (!fresh && cached && now - cached.readAt < this.keyCacheMs) return cached.key;
    const key = await this.store.keys.getKey(keyId);
    if (this.cache.size >= MAX_CACHED_KEYS) this.cache.clear();
    this.cache.set(keyId, { key, readAt: now });
    return key;
  }

  private tokenSecret(): Promise<string> {
    this.secret ??= this.store.keys.tokenSecret(randomBytes(32).toString('base64url')).catch((error: unknown) => {
      this.secret = undefined; // the store failed: ask again next time
      throw error;
    });
    return this.secret;
  }
}

function identityOf(key: ApiKeyRecord): AuthOutcome {
  if (!isRole(key.role))
    return refusal('INVALID_TOKEN', `key '${key.keyId}' has role '${key.role}', which this server does not know`);
  return { ok: true, identity: { keyId: key.keyId, name: key.name, role: key.role } };
}

function refusal(error: AuthRefusal['error'], message: string): AuthRefusal {
  return { ok: false, error, message };
}

/** How an identity is named as the actor of what it does: 'key:<keyId> (<name>)', or 'key:<keyId>'. */
export function actorName(identity: Identity): string {
  return identity.name === '' ? `key:${identity.keyId}` : `key:${identity.keyId} (${identity.name})`;
}
