import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Access tokens: JSON Web Tokens signed with HMAC-SHA256 by the store's token secret, so every server process
 * of one store accepts every other's. A token names its key; the key's role and revocation are looked up.
 */

/** What a token says. */
export interface TokenClaims {
  /** The key id. */
  sub: string;
  /** Issued at, in epoch seconds (with their fraction). */
  iat: number;
  /** Expires at, in epoch seconds (with their fraction). */
  exp: number;
  iss: 'waymark';
}

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

/** A signed token of `claims`. */
export function signToken(claims: TokenClaims, secret: string): string {
  const body = `${HEADER}.${base64url(JSON.stringify(claims))}`;
  return `${body}.${signature(body, secret)}`;
}

/**
 * The claims of a token signed with `secret`; undefined when it is malformed or its signature does not match
 * (expiry is left to the caller, who knows the time).
 */
export function verifyToken(token: string, secret: string): TokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== HEADER) return undefined;
  const expected = Buffer.from(signature(`${parts[0]}.${parts[1]}`, secret), 'utf8');
  const given = Buffer.from(parts[2]!, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const c = claims as Partial<TokenClaims> | null;
  if (!c || typeof c.sub !== 'string' || typeof c.exp !== 'number' || typeof c.iat !== 'number') return undefined;
  return c as TokenClaims;
}

function signature(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('base64url');
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
