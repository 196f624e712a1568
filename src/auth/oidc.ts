import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig } from '../config.js';
import { hashSecret } from '../secrets.js';
import { AuthRefusal } from './caller.js';

/** Signatures with a public key only: `none` and HMAC (which a public key could forge) never. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
/** Clocks of the issuer and this server may differ this much (seconds). */
const CLOCK_TOLERANCE = 30;
/** A discovery that failed is tried again after this long, not on every request. */
const RETRY_DISCOVERY_MS = 5_000;
const FETCH_TIMEOUT_MS = 5_000;
/** Verified tokens remembered at most (the oldest goes first). */
const VERIFIED_KEPT = 10_000;

/**
 * OpenID Connect access tokens (JWT) of one issuer, verified with jose against the keys
 * its discovery document names. jose keeps the key set and fetches it again when a
 * token names a key it does not know (at most every auth.jwksCooldown).
 */
export class OidcVerifier {
  private keys: Promise<JWTVerifyGetKey> | undefined;
  /**
   * Tokens verified, by their hash, until they expire: a client sends the same token with
   * every request, and a signature check cost as much as the rest of a submission.
   */
  private readonly verified = new Map<string, { user: string; groups: string[]; expiresAt: number }>();

  constructor(private readonly auth: AuthConfig & { issuer: string }) {}

  async verify(token: string): Promise<{ user: string; groups: string[] }> {
    const key = hashSecret(token);
    const known = this.verified.get(key);
    if (known && known.expiresAt > Date.now()) return known;
    const found = await this.check(token);
    if (this.verified.size >= VERIFIED_KEPT) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(key, found);
    return found;
  }

  private async check(token: string): Promise<{ user: string; groups: string[]; expiresAt: number }> {
    const keys = await this.keySet();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.auth.issuer,
        audience: this.auth.audience,
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      throw refusalOf(err);
    }
    const named = payload[this.auth.userClaim] ?? payload.sub;
    if (typeof named !== 'string' || named === '') throw new AuthRefusal(401, `the token names no user (${this.auth.userClaim} or sub)`, 'invalid_token');
    const claimed = payload[this.auth.groupsClaim];
    const groups = typeof claimed === 'string' ? [claimed] : Array.isArray(claimed) ? claimed.filter((g): g is string => typeof g === 'string') : [];
    // Kept no longer than the token is valid (exp is required), clock tolerance not counted.
    return { user: named, groups, expiresAt: payload.exp! * 1000 };
  }

  private keySet(): Promise<JWTVerifyGetKey> {
    if (!this.keys) {
      const found = discover(this.auth.issuer, this.auth.jwksCooldownMs);
      this.keys = found;
      found.catch(() => setTimeout(() => this.keys === found && (this.keys = undefined), RETRY_DISCOVERY_MS).unref());
    }
    return this.keys;
  }
}

/** The issuer's key set, from its discovery document (OpenID Connect Discovery 1.0, 4). */
async function discover(issuer: string, cooldownMs: number): Promise<JWTVerifyGetKey> {
  let jwksUri: string;
  try {
    const res = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // The document must name the issuer it was fetched for, exactly.
    if (doc.issuer !== issuer) throw new Error(`it names the issuer ${String(doc.issuer)}`);
    if (typeof doc.jwks_uri !== 'string') throw new Error('it names no jwks_uri');
    jwksUri = doc.jwks_uri;
  } catch (err) {
    throw new AuthRefusal(503, `the identity provider's discovery document could not be read (${(err as Error).message}); try again later`);
  }
  return createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: FETCH_TIMEOUT_MS, cooldownDuration: cooldownMs, cacheMaxAge: 600_000 });
}

function refusalOf(err: unknown): AuthRefusal {
  if (err instanceof AuthRefusal) return err;
  if (err instanceof errors.JWTExpired) return new AuthRefusal(401, 'the token has expired', 'invalid_token');
  if (err instanceof errors.JWTClaimValidationFailed) return new AuthRefusal(401, `the token's ${err.claim} claim is not accepted (${err.reason})`, 'invalid_token');
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return new AuthRefusal(401, "the token's signature algorithm is not accepted", 'invalid_token');
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return new AuthRefusal(401, 'the token is not signed with a key the issuer publishes', 'invalid_token');
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return new AuthRefusal(401, "the token's signature is not valid", 'invalid_token');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new AuthRefusal(401, 'the token is not a valid JWT', 'invalid_token');
  // A key set that could not be fetched (timeout, refused connection, a bad answer).
  return new AuthRefusal(503, "the identity provider's keys could not be fetched; try again later");
}
