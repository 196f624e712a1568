// Loaded with `node --import` before a client: writes each fetch's Accept header and URL
// (without its query) to stderr, so a test can see how the client followed a job.
const original = globalThis.fetch;
globalThis.fetch = (url, init) => {
  const accept = new Headers(init?.headers).get('accept') ?? '';
  process.stderr.write(`fetch ${accept || '-'} ${String(url).replace(/\?.*/, '')}\n`);
  return original(url, init);
};
