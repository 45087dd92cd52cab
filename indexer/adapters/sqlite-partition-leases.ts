import type { EmbeddedDatabase } from '../../server/embedded/sqlite.ts';
import type { PartitionLease, PartitionLeases } from '../partition-claims.ts';

const schema = `
  CREATE TABLE IF NOT EXISTS indexer_partition_leases (
    partition INTEGER PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS indexer_holders (
    holder TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

/** Leases in the embedded database file, which every indexer process on the host opens. Times are epoch milliseconds. */
export class SqlitePartitionLeases implements PartitionLeases {
  readonly #db: EmbeddedDatabase;

  constructor(db: EmbeddedDatabase) {
    this.#db = db;
    db.connection.exec(schema);
  }

  async acquire(partition: number, holder: string, now: Date, until: Date): Promise<boolean> {
    // One statement, so SQLite's write lock makes the check and the take one step.
    const row = this.#db
      .statement(
        `INSERT INTO indexer_partition_leases (partition, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (partition) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE indexer_partition_leases.holder = excluded.holder OR indexer_partition_leases.expires_at <= ?
         RETURNING holder`,
      )
      .get(partition, holder, until.getTime(), now.getTime());
    return row !== undefined;
  }

  async release(partition: number, holder: string): Promise<void> {
    this.#db
      .statement('DELETE FROM indexer_partition_leases WHERE partition = ? AND holder = ?')
      .run(partition, holder);
  }

  async announce(holder: string, now: Date, until: Date): Promise<void> {
    this.#db.transaction(() => {
      this.#db.statement('DELETE FROM indexer_holders WHERE expires_at <= ?').run(now.getTime());
      this.#db
        .statement(
          `INSERT INTO indexer_holders (holder, expires_at) VALUES (?, ?)
           ON CONFLICT (holder) DO UPDATE SET expires_at = excluded.expires_at`,
        )
        .run(holder, until.getTime());
    });
  }

  async snapshot(now: Date): Promise<{ holders: string[]; leases: PartitionLease[] }> {
    const holders = this.#db
      .statement('SELECT holder FROM indexer_holders WHERE expires_at > ? ORDER BY holder')
      .all(now.getTime()) as { holder: string }[];
    const leases = this.#db
      .statement(
        'SELECT partition, holder, expires_at FROM indexer_partition_leases WHERE expires_at > ? ORDER BY partition',
      )
      .all(now.getTime()) as { partition: number; holder: string; expires_at: number }[];
    return {
      holders: holders.map((row) => row.holder),
      leases: leases.map((row) => ({
        partition: row.partition,
        holder: row.holder,
        expiresAt: new Date(row.expires_at),
      })),
    };
  }

  async close(): Promise<void> {}
}
