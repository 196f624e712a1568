/**
 * A job id as this server makes them: a UUID in lower case. Anything else names no
 * job and is refused before it reaches the store (Postgres refuses a malformed uuid
 * with an error, not an empty answer). Shared vocabulary, like exceptions.ts.
 */
export const JOB_ID_PATTERN = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

const JOB_ID = new RegExp(`^${JOB_ID_PATTERN}$`);

export const isJobId = (s: string): boolean => JOB_ID.test(s);
