/** Who sent a request, as far as the server knows (auth/authenticate.ts). */
export interface Caller {
  /** Undefined for nobody in particular: no credentials, or authentication is off. */
  user: string | undefined;
  groups: readonly string[];
  /** Sees and manages every user's jobs, and every process. */
  admin: boolean;
}

/** Authentication is off: every caller may do everything, as on the loopback quick start. */
export const EVERYONE: Caller = Object.freeze({ user: undefined, groups: Object.freeze([]), admin: true });

/** Authentication is on and the request carries no credentials. */
export const ANONYMOUS: Caller = Object.freeze({ user: undefined, groups: Object.freeze([]), admin: false });

/**
 * A request refused for who sent it: 401 without (valid) credentials, 403 for a known
 * user without the right, 503 when the identity provider cannot be reached.
 * The message is for the client: it never holds the token.
 */
export class AuthRefusal extends Error {
  constructor(
    readonly status: 401 | 403 | 503,
    message: string,
    /** RFC 6750's error code, for the WWW-Authenticate challenge of a 401. */
    readonly error?: 'invalid_request' | 'invalid_token',
  ) {
    super(message);
    this.name = 'AuthRefusal';
  }

  /** The WWW-Authenticate header a 401 carries (RFC 6750, 3). */
  get challenge(): string | undefined {
    if (this.status !== 401) return undefined;
    if (!this.error) return 'Bearer realm="wps"';
    return `Bearer realm="wps", error="${this.error}", error_description="${this.message.replace(/["\\]/g, "'")}"`;
  }
}

/** The refusal of a request that needs to know who sent it. */
export const needsIdentity = (): AuthRefusal =>
  new AuthRefusal(401, 'This needs credentials: send Authorization: Bearer <token>');

/** Authentication is on and the caller gave no credentials. */
export const isAnonymous = (caller: Caller): boolean => caller.user === undefined && !caller.admin;

/** Whether `caller` may see and manage a job of `owner` (null: made while authentication was off). */
export const mayManage = (owner: string | null, caller: Caller): boolean => caller.admin || (owner !== null && owner === caller.user);
