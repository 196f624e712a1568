import type { ProcessDefinition } from '../src/process/types.js';
import bbox from './bbox.js';
import hello from './hello.js';
import inout from './inout.js';
import showError from './show-error.js';
import sleep from './sleep.js';
import ultimateQuestion from './ultimate-question.js';
import wordcounter from './wordcounter.js';

/**
 * The demo processes: the package the server offers when no other is named
 * (`WPS_PROCESSES`), in the order GetCapabilities lists them.
 */
export const processes: readonly ProcessDefinition[] = [
  hello,
  sleep,
  ultimateQuestion,
  wordcounter,
  bbox,
  inout,
  showError,
];

export default processes;
