import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseSize, type ConfigFile } from '../src/config.js';
import { hashSecret } from '../src/secrets.js';
import { tempDir } from './helpers/temp-dir.js';

describe('configuration', () => {
  it('has embedded defaults for a bare machine', () => {
    const c = loadConfig({ env: {} });
    expect(c.port).toBe(5000);
    expect(c.baseUrl).toBe('http://localhost:5000');
    expect(c.outputUrl).toBe('http://localhost:5000/outputs');
    expect(c.storageDir).toBe(resolve('var/outputs'));
    expect(c.languages).toEqual(['en-US']);
    expect(c.limits.maxRequestSize).toBe(3 * 1024 * 1024);
    expect(c.references).toEqual({ allow: [], deny: [] });
  });

  it('reads a JSON config file, and environment variables override it', () => {
    const dir = tempDir('wps-config-');
    const file = join(dir, 'wps.json');
    writeFileSync(
      file,
      JSON.stringify({
        server: { port: 8080, baseUrl: 'https://wps.example.org/', languages: ['en-US', 'fr-FR'] },
        limits: { maxRequestSize: '10mb', syncTimeout: 5 },
        references: { allow: ['*.example.org'] },
        metadata: { title: 'Example', provider: { name: 'Example Org' }, contact: { email: 'ops@example.org' } },
      }),
    );
    const c = loadConfig({ env: { WPS_CONFIG: file, PORT: '9090', WPS_REFERENCE_DENY: 'bad.example.org, 10.0.0.0/8' } });
    expect(c.port).toBe(9090);
    expect(c.baseUrl).toBe('https://wps.example.org');
    expect(c.outputUrl).toBe('https://wps.example.org/outputs');
    expect(c.languages).toEqual(['en-US', 'fr-FR']);
    expect(c.limits.maxRequestSize).toBe(10 * 1024 * 1024);
    expect(c.limits.syncTimeoutMs).toBe(5000);
    expect(c.references).toEqual({ allow: ['*.example.org'], deny: ['bad.example.org', '10.0.0.0/8'] });
    expect(c.metadata).toMatchObject({ title: 'Example', provider: { name: 'Example Org' }, contact: { email: 'ops@example.org' } });
  });

  it('refuses nonsense with a message naming the setting', () => {
    expect(() => loadConfig({ env: { PORT: 'eighty' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { WPS_BASE_URL: 'ftp://x' } })).toThrow(/WPS_BASE_URL/);
    expect(() => loadConfig({ env: { WPS_MAX_REQUEST_SIZE: 'lots' } })).toThrow(/maxRequestSize/);
    expect(() => loadConfig({ env: { WPS_CONFIG: '/nonexistent/wps.json' } })).toThrow(/cannot read config file/);
    expect(() => loadConfig({ env: { WPS_GRIDENGINE_COMMANDS: 'usr/lib/gridengine' } })).toThrow(/scheduler.gridengine.commands must be an absolute path/);
    expect(() => loadConfig({ env: {}, overrides: { scheduler: { gridengine: { commands: '/usr/lib/gridengine', cell: 'a b' } } } })).toThrow(/scheduler.gridengine.cell/);
  });

  it('names GridEngine’s own commands, with their root and cell, when told where they are', () => {
    expect(loadConfig({ env: {} }).schedulers.gridengine.commands).toBeUndefined();
    const c = loadConfig({ env: {}, overrides: { scheduler: { gridengine: { commands: '/usr/lib/gridengine/', root: '/var/lib/gridengine', cell: 'default' } } } });
    expect(c.schedulers.gridengine.commands).toEqual({ dir: '/usr/lib/gridengine', root: '/var/lib/gridengine', cell: 'default' });
    expect(loadConfig({ env: { WPS_GRIDENGINE_COMMANDS: '/opt/sge/bin/lx-amd64' } }).schedulers.gridengine.commands).toEqual({ dir: '/opt/sge/bin/lx-amd64' });
  });

  it('refuses to serve other machines without auth, unless auth is "none"; loopback needs none', () => {
    expect(loadConfig({ env: {} })).toMatchObject({ auth: undefined, unprotected: undefined });
    expect(loadConfig({ env: { HOST: '::1' } })).toMatchObject({ auth: undefined, unprotected: undefined });
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'wps.example.org']) {
      expect(loadConfig({ env: { HOST: host } }).unprotected).toMatch(/reachable from other machines and no auth is configured/);
      expect(loadConfig({ env: { HOST: host, WPS_AUTH: 'none' } })).toMatchObject({ auth: undefined, unprotected: undefined });
      expect(loadConfig({ env: { HOST: host }, overrides: { auth: 'none' } })).toMatchObject({ auth: undefined, unprotected: undefined });
    }
    const on = loadConfig({ env: { HOST: '0.0.0.0', WPS_AUTH_ISSUER: 'https://id.example.org/realms/hpc/', WPS_AUTH_AUDIENCE: 'wps' } }).auth!;
    expect(on).toMatchObject({ issuer: 'https://id.example.org/realms/hpc', audience: ['wps'], userClaim: 'sub', groupsClaim: 'groups' });
  });

  it('keeps static tokens as their SHA-256 only, and refuses auth settings that cannot work', () => {
    const auth = loadConfig({ env: {}, overrides: { auth: { tokens: [{ user: 'ci', token: 'wps_0123456789abcdef', groups: ['ci'] }] } } }).auth!;
    expect(auth.tokens).toEqual([{ user: 'ci', sha256: hashSecret('wps_0123456789abcdef'), groups: ['ci'], admin: false }]);
    expect(JSON.stringify(auth)).not.toContain('wps_0123456789abcdef');
    const refused = (auth: ConfigFile['auth']) => () => loadConfig({ env: {}, overrides: { auth } });
    expect(refused({ issuer: 'https://id.example.org' })).toThrow(/auth.audience/);
    expect(refused({ tokens: [{ user: 'ci' }] })).toThrow(/auth.tokens\[0\]: give either token or sha256/);
    expect(refused({ tokens: [{ user: 'ci', sha256: 'abc' }] })).toThrow(/not a hex SHA-256/);
    expect(refused({ tokens: [{ user: 'ci', token: 'short' }] })).toThrow(/at least 16/);
    expect(refused({ tokens: [{ user: 'a', token: 'wps_0123456789abcdef' }, { user: 'b', token: 'wps_0123456789abcdef' }] })).toThrow(/twice/);
    expect(refused({ userHeader: 'X-Forwarded-User' })).toThrow(/trustedProxies/);
    expect(refused({ userHeader: 'X-Forwarded-User', trustedProxies: ['proxy.example.org'] })).toThrow(/not an address or CIDR/);
  });

  it('parses sizes', () => {
    expect(parseSize('3mb', 'x')).toBe(3145728);
    expect(parseSize('512 KB', 'x')).toBe(524288);
    expect(parseSize(1000, 'x')).toBe(1000);
    expect(parseSize('2g', 'x')).toBe(2 * 1024 ** 3);
  });
});
