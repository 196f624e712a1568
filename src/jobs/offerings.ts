import type { Knex } from 'knex';

/**
 * The sequence number of what the servers on this database offer (GetCapabilities'
 * updateSequence). `digest` names the documents a server serves: the same digest as the
 * newest row keeps its number; anything else takes the next one, so the number only grows,
 * even when an earlier set of processes comes back.
 */
export async function offeringSequence(db: Knex, digest: string): Promise<string> {
  return db.transaction(async (trx) => {
    // Servers starting together must not each add a row for the same digest.
    await trx.raw("SELECT pg_advisory_xact_lock(hashtext('offerings'))");
    const newest = (await trx('offerings').orderBy('sequence', 'desc').first('sequence', 'digest')) as { sequence: string | number; digest: string } | undefined;
    if (newest?.digest === digest) return String(newest.sequence);
    const [row] = (await trx('offerings').insert({ digest }).returning('sequence')) as { sequence: string | number }[];
    return String(row!.sequence);
  });
}
