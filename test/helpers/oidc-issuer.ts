import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

/**
 * An OpenID Connect issuer on loopback, as far as a resource server sees one: its
 * discovery document and its key set (RS256 and ES256 keys), and tokens it signs.
 */
export interface TestIssuer {
  issuer: string;
  /** A token as the issuer would sign it: `claims` over sensible defaults (sub, aud, exp in an hour). */
  token(claims?: JWTPayload & { user?: string; groups?: string[] }, opts?: { alg?: 'RS256' | 'ES256'; key?: CryptoKey; kid?: string }): Promise<string>;
  /** Keys the issuer does not publish, to forge with. */
  foreign: { privateKey: CryptoKey; publicKey: CryptoKey };
  /** The published RSA public key as PEM (for the HS256 confusion attack). */
  publicPem: string;
  /** Publishes another key (a rotation), returning its kid. */
  rotate(): Promise<{ kid: string; privateKey: CryptoKey }>;
  /** Requests for the key set so far. */
  jwksRequests: number;
  close(): Promise<void>;
}

export async function startTestIssuer(audience: string): Promise<TestIssuer> {
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const foreign = await generateKeyPair('RS256', { extractable: true });
  const keys = [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
  ];
  const { createPublicKey } = await import('node:crypto');
  const publicPem = createPublicKey({ key: (await exportJWK(rsa.publicKey)) as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  let issuer = '';
  const state = { jwksRequests: 0 };
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256', 'ES256'] }));
    } else if (req.url === '/jwks') {
      state.jwksRequests++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    issuer,
    foreign,
    publicPem,
    get jwksRequests() {
      return state.jwksRequests;
    },
    async token(claims = {}, opts = {}) {
      const { user, groups, ...rest } = claims;
      const alg = opts.alg ?? 'RS256';
      const key = opts.key ?? (alg === 'RS256' ? rsa.privateKey : ec.privateKey);
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ preferred_username: user ?? 'alice', groups: groups ?? [], ...rest })
        .setProtectedHeader({ alg, kid: opts.kid ?? (alg === 'RS256' ? 'rsa-1' : 'ec-1'), typ: 'at+jwt' })
        .setIssuer((rest.iss as string | undefined) ?? issuer)
        .setAudience((rest.aud as string | string[] | undefined) ?? audience)
        .setSubject((rest.sub as string | undefined) ?? user ?? 'alice')
        .setIssuedAt(now)
        .setExpirationTime((rest.exp as number | undefined) ?? now + 3600)
        .sign(key);
    },
    async rotate() {
      const next = await generateKeyPair('RS256', { extractable: true });
      const kid = `rsa-${keys.length + 1}`;
      keys.push({ ...(await exportJWK(next.publicKey)), kid, alg: 'RS256', use: 'sig' });
      return { kid, privateKey: next.privateKey };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
