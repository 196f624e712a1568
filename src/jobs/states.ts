/**
 * The job state machine. State only moves forward: a job is accepted, runs, and ends
 * succeeded, failed or dismissed; a terminal state is final. Every change goes through
 * one conditional update (store.ts) whose WHERE clause is `state IN fromStates(to)`,
 * so whoever loses a race (a late progress report, a monitor after success) changes
 * nothing.
 */
export const JOB_STATES = ['accepted', 'running', 'succeeded', 'failed', 'dismissed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL: readonly JobState[] = ['succeeded', 'failed', 'dismissed'];

const FROM: Record<JobState, readonly JobState[]> = {
  accepted: [],
  running: ['accepted'],
  // A job may end without a started report reaching us (a lost message, a crash).
  succeeded: ['accepted', 'running'],
  failed: ['accepted', 'running'],
  dismissed: ['accepted', 'running'],
};

/** The states from which a job may move to `to`. */
export const fromStates = (to: JobState): readonly JobState[] => FROM[to];

export const isTerminal = (s: JobState): boolean => TERMINAL.includes(s);
