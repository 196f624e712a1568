import { defineProcess, literalInput, literalOutput } from '../process/declare.js';
import { ProcessError, type LiteralInput, type ProcessDefinition, type ProcessResources } from '../process/types.js';
import { SESSION_URL_OUTPUT, SESSION_VARIABLES, variablesOf, type SessionApp } from './app.js';

/** A session as a package declares it: a process whose inputs are literals its command names. */
export interface SessionDeclaration extends Partial<Omit<SessionApp, 'cmd'>> {
  identifier: string;
  title: string;
  abstract?: string;
  cmd: string[];
  inputs?: LiteralInput[];
  resources?: ProcessResources;
  access?: ProcessDefinition['access'];
}

/** Sessions wait this long for their application unless they say otherwise. */
export const DEFAULT_SESSION_TIMEOUT_SECONDS = 60;

/**
 * Declares an interactive session as a process. Its job runs the application (the
 * runner's `runSession`), never a handler: Execute it with storeExecuteResponse=true. Its
 * one output is the session's URL.
 */
export function defineSession(d: SessionDeclaration): ProcessDefinition {
  const inputs = d.inputs ?? [];
  const app: SessionApp = {
    cmd: d.cmd,
    timeoutSeconds: d.timeoutSeconds ?? DEFAULT_SESSION_TIMEOUT_SECONDS,
    keepPrefix: d.keepPrefix ?? false,
    path: d.path ?? '/',
    properties: d.properties ?? {},
    env: d.env ?? {},
  };
  if (d.readyLine !== undefined) {
    new RegExp(d.readyLine); // a pattern that does not compile fails here, not in a job
    app.readyLine = d.readyLine;
  }
  if (d.idleTimeoutSeconds !== undefined) app.idleTimeoutSeconds = d.idleTimeoutSeconds;
  if (app.cmd.length === 0 || !app.cmd.every((a) => typeof a === 'string')) throw new Error(`session ${d.identifier}: cmd must be a non-empty list of strings`);
  if (!app.path.startsWith('/')) throw new Error(`session ${d.identifier}: path must start with /`);
  const known = new Set<string>([...SESSION_VARIABLES, ...Object.keys(app.properties), ...inputs.map((i) => i.identifier)]);
  const unknown = [...variablesOf([...app.cmd, ...Object.values(app.env)])].filter((v) => !known.has(v));
  const inPath = [...variablesOf([app.path])].filter((v) => v !== 'secret');
  if (inPath.length > 0) throw new Error(`session ${d.identifier}: its path may name only \${secret}, not ${inPath.map((v) => `\${${v}}`).join(', ')}`);
  if (unknown.length > 0) throw new Error(`session ${d.identifier}: the command names ${unknown.map((v) => `\${${v}}`).join(', ')}, which is neither a built-in, a property nor an input`);
  for (const i of inputs) {
    if (i.type !== 'literal' || i.maxOccurs !== 1) throw new Error(`session ${d.identifier}: input ${i.identifier} must be a literal given at most once`);
  }
  return defineProcess({
    identifier: d.identifier,
    title: d.title,
    ...(d.abstract !== undefined ? { abstract: d.abstract } : {}),
    inputs,
    outputs: [literalOutput(SESSION_URL_OUTPUT, { title: 'Session URL', abstract: 'Where the session was served (through the server\u2019s proxy)', dataType: 'anyURI' })],
    ...(d.resources ? { resources: d.resources } : {}),
    ...(d.access ? { access: d.access } : {}),
    session: app,
    handler: () => {
      throw new ProcessError(`${d.identifier} is an interactive session: execute it with storeExecuteResponse=true`);
    },
  });
}

/** One sanitize rule of the launcher: a value not in the list, or not matching, becomes the default. */
export type SanitizeRule = { type: 'inList'; list: string[]; default?: string } | { type: 'regexp'; regexp: string; default?: string };

/**
 * The process of one app of the config (the launcher's `apps`): every variable its
 * command names that is neither a built-in nor a property is a string input, required
 * unless a sanitize rule gives a default; an `inList` rule is its allowed values, a
 * `regexp` rule its pattern.
 */
export function appProcess(
  name: string,
  entry: Omit<SessionDeclaration, 'identifier' | 'title' | 'inputs'> & { title?: string },
  sanitize: Readonly<Record<string, SanitizeRule>>,
): ProcessDefinition {
  const properties = entry.properties ?? {};
  const inputs = [...variablesOf(entry.cmd)]
    .filter((v) => !(SESSION_VARIABLES as readonly string[]).includes(v) && !Object.hasOwn(properties, v))
    .map((v) => {
      const rule = Object.hasOwn(sanitize, v) ? sanitize[v] : undefined;
      return literalInput(v, {
        title: v,
        dataType: 'string',
        ...(rule?.default !== undefined ? { default: rule.default } : {}),
        ...(rule?.type === 'inList' ? { allowedValues: rule.list } : {}),
        ...(rule?.type === 'regexp' ? { pattern: rule.regexp } : {}),
      });
    });
  return defineSession({ ...entry, identifier: name, title: entry.title ?? name, inputs });
}

/**
 * The launcher's rule for a value a client sent: kept when it passes, else the rule's
 * default (a value with no rule is kept as it is).
 */
export function sanitized(value: string, rule: SanitizeRule | undefined): string | undefined {
  if (!rule) return value;
  const passes = rule.type === 'inList' ? rule.list.includes(value) : new RegExp(rule.regexp).test(value);
  return passes ? value : rule.default;
}
