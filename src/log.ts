/** One JSON object per line on stdout: what operators grep and ship. */
export type Log = (entry: Record<string, unknown>) => void;

export const jsonLog: Log = (entry) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
};

export const silentLog: Log = () => undefined;
