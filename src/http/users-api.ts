import type { Context } from 'koa';
import { isAnonymous, needsIdentity, type Caller } from '../auth/caller.js';
import type { Authenticator } from '../auth/authenticate.js';

export const USERS_ME_PATH = '/users/me';

/** GET /users/me: who the server takes the caller for. */
export function usersApi(auth: Authenticator) {
  return (ctx: Context, caller: Caller): void => {
    if (isAnonymous(caller)) throw needsIdentity();
    ctx.body = { user: caller.user ?? null, groups: caller.groups, admin: caller.admin, authentication: auth.on };
  };
}
