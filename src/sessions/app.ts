/**
 * An interactive session: a process whose job starts an application (a notebook, a
 * remote desktop, a visualization server) on a compute node, waits until it is ready and
 * keeps it running behind the server's proxy until the session ends. Declared in a
 * process package (`defineSession`) or in the config like the ParaViewWeb launcher's
 * `apps`. Nothing here knows about HTTP or the job store.
 */
export interface SessionApp {
  /**
   * The command as an argument list, never given to a shell. `$name` and `${name}` are
   * replaced: the built-ins (SESSION_VARIABLES), the app's `properties` and the
   * process's inputs.
   */
  cmd: string[];
  /** A regular expression a line of the application's output matches once it is ready; unset: ready once its port takes connections. */
  readyLine?: string;
  /** Seconds the application has to become ready. */
  timeoutSeconds: number;
  /** Seconds without traffic through the proxy after which the session ends; unset: never. */
  idleTimeoutSeconds?: number;
  /**
   * The proxy passes `/sessions/{id}/…` on whole (the application is told its base path,
   * `${base_url}`: Jupyter's base_url); else it strips the prefix (applications that
   * use relative links, such as Xpra's HTML5 client).
   */
  keepPrefix: boolean;
  /**
   * Where in the application the session URL points (a websocket path for ParaViewWeb).
   * It may name `${secret}` for the application's own login (Jupyter's `/tree?token=${secret}`).
   */
  path: string;
  /** Values the command may name besides the built-ins and inputs (the launcher's `properties`). */
  properties: Record<string, string>;
  /** Environment of the application (values may name the same variables as the command). */
  env: Record<string, string>;
}

/** Hosts and the ports on them sessions may use (the launcher's `resources`). */
export interface PortPool {
  host: string;
  portRange: [number, number];
}

/** What the runner needs to start a session: in the job's spec, so a compute node needs no setting of its own. */
export interface SessionSpec {
  app: SessionApp;
  /** The session's secret: `${secret}` for the application; the proxy knows only its hash. */
  secret: string;
  /** `/sessions/{id}/`, as the proxy serves it. */
  basePath: string;
  /** The session's public URL (`…/sessions/{id}/`, without the secret). */
  url: string;
  pools: PortPool[];
  /** The process's inputs as the command names them, checked and with their defaults. */
  values: Record<string, string>;
}

/** Names every session command may use; any other is a property or an input. */
export const SESSION_VARIABLES = ['host', 'port', 'secret', 'workdir', 'id', 'base_url', 'url'] as const;

/** The identifier of a session process's one output: the session's URL, without its secret. */
export const SESSION_URL_OUTPUT = 'session_url';

/** The query parameter that carries a session's secret to the proxy once (then a cookie does). */
export const SECRET_PARAMETER = 'session_secret';

const VARIABLE = /\$(?:\$|([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})/g;

/** The variable names a template names (Python's string.Template syntax, as the launcher's). */
export function variablesOf(template: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const part of template) for (const m of part.matchAll(VARIABLE)) if (m[1] ?? m[2]) names.add((m[1] ?? m[2])!);
  return names;
}

/**
 * Replaces the variables of a text (Python's string.Template, as the launcher's); `$$` is a
 * dollar. A name without a value stays as written when `unknown` is 'keep' (the launcher's
 * safe_substitute), else it is an error.
 */
export function substitute(text: string, values: Readonly<Record<string, string>>, unknown: 'keep' | 'fail'): string {
  return text.replace(VARIABLE, (whole: string, bare: string | undefined, braced: string | undefined) => {
    const name = bare ?? braced;
    if (name === undefined) return '$';
    if (Object.hasOwn(values, name)) return values[name]!;
    if (unknown === 'keep') return whole;
    throw new Error(`the command names \${${name}}, which has no value`);
  });
}

/**
 * Replaces the variables of each argument. A name without a value is an error (the
 * launcher left it in place, and the application got `${name}` as an argument).
 */
export const expandCommand = (template: readonly string[], values: Readonly<Record<string, string>>): string[] =>
  template.map((part) => substitute(part, values, 'fail'));

/** The pool entry for this node: its own host name (full or short), else a loopback entry (the server's own machine). */
export function poolFor(pools: readonly PortPool[], hostname: string): PortPool | undefined {
  const short = hostname.split('.')[0];
  return (
    pools.find((p) => p.host === hostname || p.host === short) ??
    pools.find((p) => p.host === 'localhost' || /^127\./.test(p.host) || p.host === '::1')
  );
}

/** Whether a host and port lie in one of the pools: the only places the proxy forwards to. */
export const inPools = (pools: readonly PortPool[], host: string, port: number): boolean =>
  pools.some((p) => p.host === host && port >= p.portRange[0] && port <= p.portRange[1]);
