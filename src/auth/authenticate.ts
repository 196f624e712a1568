import type { IncomingMessage } from 'node:http';
import type { AuthConfig, TokenEntry } from '../config.js';
import { addressIn } from '../inout/address-policy.js';
import { hashSecret } from '../secrets.js';
import { ANONYMOUS, AuthRefusal, EVERYONE, type Caller } from './caller.js';
import { mayUse } from './process-access.js';
import { OidcVerifier } from './oidc.js';

/** Tells who sent a request. */
export interface Authenticator {
  /** On for this server (else every caller is EVERYONE). */
  readonly on: boolean;
  /**
   * Who sent `req`: at once when it carries no credentials, else after checking them.
   * Throws (or rejects with) an AuthRefusal for credentials that do not hold.
   */
  identify(req: IncomingMessage): Caller | Promise<Caller>;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Credentials, in this order: a front end's user header from a trusted proxy;
 * `Authorization: Bearer` with a static API token (known by its SHA-256) or an OpenID
 * Connect access token of the configured issuer. Without any, the caller is anonymous.
 */
export function authenticator(auth: AuthConfig | undefined): Authenticator {
  if (!auth) return { on: false, identify: () => EVERYONE };
  const tokens = new Map<string, TokenEntry>(auth.tokens.map((t) => [t.sha256, t]));
  const oidc = auth.issuer ? new OidcVerifier({ ...auth, issuer: auth.issuer }) : undefined;
  const caller = (user: string, groups: readonly string[], admin = false): Caller => ({
    user,
    groups,
    admin: admin || mayUse(auth.admins, { user, groups, admin: false }),
  });

  const fromBearer = (token: string): Caller | Promise<Caller> => {
    const entry = tokens.get(hashSecret(token));
    if (entry) return caller(entry.user, entry.groups, entry.admin);
    if (oidc && JWT.test(token)) return oidc.verify(token).then(({ user, groups }) => caller(user, groups));
    throw new AuthRefusal(401, 'the token is not known here', 'invalid_token');
  };

  return {
    on: true,
    identify(req) {
      // A front end's word first: it authenticated the user, and may pass its own
      // Authorization header along (oauth2-proxy's token, Apache's Basic credentials).
      if (auth.userHeader) {
        const named = req.headers[auth.userHeader];
        if (named !== undefined) {
          // Anyone can send the header; only a front end that authenticated the user may.
          if (!addressIn(req.socket.remoteAddress ?? '', auth.trustedProxies)) {
            throw new AuthRefusal(401, `${auth.userHeader} is believed only from the configured front ends`, 'invalid_request');
          }
          const user = String(named).trim();
          if (user !== '') {
            const listed = auth.groupsHeader ? req.headers[auth.groupsHeader] : undefined;
            const groups = listed === undefined ? [] : String(listed).split(',').map((g) => g.trim()).filter((g) => g !== '');
            return caller(user, groups);
          }
        }
      }
      const authorization = req.headers.authorization;
      if (authorization !== undefined) {
        const bearer = BEARER.exec(authorization);
        if (!bearer) throw new AuthRefusal(401, 'only Bearer tokens are accepted (Authorization: Bearer <token>)', 'invalid_request');
        return fromBearer(bearer[1]!);
      }
      return ANONYMOUS;
    },
  };
}
