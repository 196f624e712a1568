import { basename } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that wait longest on batch systems, servers and browsers, heaviest first.
 * Started first, they run beside the many short files instead of after them, which a
 * clean clone (no timing cache, so vitest orders by file size) would otherwise do.
 */
const heaviest = [
  'batch-e2e', 'schedulers', 'recovery', 'start', 'sessions-apps', 'cwl',
  'embedded-database', 'cli', 'async', 'faults',
];

function rank(file: TestSpecification): number {
  const i = heaviest.indexOf(basename(file.moduleId, '.test.ts'));
  return i < 0 ? heaviest.length : i;
}

export default class HeaviestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
