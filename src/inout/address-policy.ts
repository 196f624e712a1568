import ipaddr from 'ipaddr.js';

/**
 * Which addresses an input reference may be fetched from. The check runs on the IP a
 * host name resolves to (the one the connection then uses), so a name that points at
 * an internal address is refused like the address itself.
 *
 * A host name on the allow list opens public addresses only: whoever controls a name's
 * DNS could otherwise point it at loopback or the cluster's private network. Loopback,
 * private, unique-local and other special ranges open only through an address or CIDR
 * entry that contains them.
 */

export interface AddressPolicy {
  /** Host names (`example.org`, `*.example.org`) or CIDR ranges; when not empty, only these. */
  allow: readonly string[];
  /** Host names or CIDR ranges that are always refused. */
  deny: readonly string[];
}

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/** Cloud metadata services that live outside link-local space. */
const METADATA = ['fd00:ec2::254/128', '100.100.100.200/32'].map((c) => ipaddr.parseCIDR(c));

/** Ranges no reference may ever reach, whatever the allow list says. */
const NEVER = new Set(['unspecified', 'broadcast', 'multicast', 'linkLocal']);

function parse(ip: string): Addr | undefined {
  return ipaddr.isValid(ip) ? ipaddr.parse(ip) : undefined;
}

/**
 * The IPv4 address an IPv6 address carries, for the forms that reach it: mapped and
 * translated (`::ffff:a.b.c.d`, `::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
 * NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`), 6to4 (`2002:AABB:CCDD::`) and Teredo (the
 * client's address, inverted, in the last 32 bits). A gateway on the way turns each into
 * a connection to that IPv4 address, so it is judged as that address.
 */
export function embeddedIPv4(addr: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = addr.parts;
  const last32 = (xor = 0) => new ipaddr.IPv4([(p[6]! >> 8) ^ xor, (p[6]! & 0xff) ^ xor, (p[7]! >> 8) ^ xor, (p[7]! & 0xff) ^ xor]);
  switch (addr.range()) {
    case 'ipv4Mapped':
    case 'rfc6145':
    case 'rfc6052':
      return last32();
    case '6to4':
      return new ipaddr.IPv4([p[1]! >> 8, p[1]! & 0xff, p[2]! >> 8, p[2]! & 0xff]);
    case 'teredo':
      return last32(0xff);
  }
  // ::a.b.c.d, but not :: and ::1, which are ranges of their own.
  if (p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || p[7]! > 1)) return last32();
  return undefined;
}

/** CIDR or single-address entries, parsed once per entry string. */
const parsedEntries = new Map<string, [Addr, number] | null>();

function cidrOf(entry: string): [Addr, number] | undefined {
  let cidr = parsedEntries.get(entry);
  if (cidr === undefined) {
    const e = entry.trim().toLowerCase().replace(/^\[|\]$/g, '');
    if (e.includes('/') && ipaddr.isValidCIDR(e)) cidr = ipaddr.parseCIDR(e);
    else {
      const single = parse(e);
      cidr = single ? [single, single.kind() === 'ipv4' ? 32 : 128] : null;
    }
    if (parsedEntries.size < 10_000) parsedEntries.set(entry, cidr);
  }
  return cidr ?? undefined;
}

function inCidr(addr: Addr, cidr: [Addr, number]): boolean {
  return addr.kind() === cidr[0].kind() && addr.match(cidr as [ipaddr.IPv4, number] & [ipaddr.IPv6, number]);
}

function nameMatches(entry: string, hostname: string): boolean {
  const e = entry.trim().toLowerCase().replace(/\.$/, '');
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (e.startsWith('*.')) return host.endsWith(e.slice(1));
  return host === e;
}

/**
 * Returns why the address may not be fetched, or undefined when it may.
 * `hostname` is the name from the URL (the IP itself for IP literals).
 */
export function refusalReason(ip: string, hostname: string, policy: AddressPolicy): string | undefined {
  const given = parse(ip);
  if (!given) return `${ip} is not an IP address`;
  // Judged as the IPv4 address it carries, if any; an address entry may name either form.
  const carried = given.kind() === 'ipv6' ? embeddedIPv4(given as ipaddr.IPv6) : undefined;
  const addr = carried ?? given;
  const forms = carried ? [addr, given] : [addr];
  const range = addr.range();
  if (NEVER.has(range) || METADATA.some((c) => inCidr(addr, c))) {
    return `${addr.toString()} is a ${range === 'unicast' ? 'metadata service' : range} address`;
  }
  const hasAddress = (entries: readonly string[], among: readonly Addr[]) =>
    entries.some((e) => {
      const cidr = cidrOf(e);
      return cidr !== undefined && among.some((a) => inCidr(a, cidr));
    });
  const hasName = (entries: readonly string[]) => entries.some((e) => cidrOf(e) === undefined && nameMatches(e, hostname));
  if (hasAddress(policy.deny, forms) || hasName(policy.deny)) return `${hostname} is on the deny list`;
  if (range !== 'unicast') {
    // Only an address entry containing the address itself (the IPv4 one, when carried) opens it.
    if (hasAddress(policy.allow, [addr])) return undefined;
    const opened = hasName(policy.allow) ? ` (a host name on the allow list opens public addresses only)` : '';
    return `${addr.toString()} is a ${range} address${opened}`;
  }
  if (policy.allow.length === 0 || hasAddress(policy.allow, forms) || hasName(policy.allow)) return undefined;
  return `${hostname} is not on the allow list`;
}

/** Whether `ip` (or the IPv4 address it carries) is one of the addresses or CIDR ranges given. */
export function addressIn(ip: string, entries: readonly string[]): boolean {
  const given = parse(ip);
  if (!given) return false;
  const carried = given.kind() === 'ipv6' ? embeddedIPv4(given as ipaddr.IPv6) : undefined;
  const forms = carried ? [carried, given] : [given];
  return entries.some((e) => {
    const cidr = cidrOf(e);
    return cidr !== undefined && forms.some((a) => inCidr(a, cidr));
  });
}
