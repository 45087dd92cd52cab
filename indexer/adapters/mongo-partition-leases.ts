import type { Db } from 'mongodb';
import type { PartitionLease, PartitionLeases } from '../partition-claims.ts';

interface MongoPartitionLease {
  /** The partition number. */
  _id: number;
  holder: string;
  expiresAt: Date;
}

interface MongoHolder {
  /** The holder's name. */
  _id: string;
  expiresAt: Date;
}

export interface MongoPartitionLeasesOptions {
  db: Pick<Db, 'collection'>;
  /** Default `indexer_partition_leases`. */
  leasesCollection?: string;
  /** Default `indexer_holders`. */
  holdersCollection?: string;
  /** Server-side limit (`maxTimeMS`) on every operation. Default 5000. */
  operationTimeoutMs?: number;
}

const duplicateKeyCode = 11000;
const isDuplicateKey = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === duplicateKeyCode;

/** Leases in MongoDB, beside the outbox. Times are the indexers' clocks, so their hosts must keep time (NTP). */
export class MongoPartitionLeases implements PartitionLeases {
  readonly #leases;
  readonly #holders;
  readonly #limit: { maxTimeMS: number };

  constructor({
    db,
    leasesCollection = 'indexer_partition_leases',
    holdersCollection = 'indexer_holders',
    operationTimeoutMs = 5000,
  }: MongoPartitionLeasesOptions) {
    this.#leases = db.collection<MongoPartitionLease>(leasesCollection);
    this.#holders = db.collection<MongoHolder>(holdersCollection);
    this.#limit = { maxTimeMS: operationTimeoutMs };
  }

  /** Startup: stopped indexers' records go by themselves; the snapshot ignores expired ones meanwhile. */
  async ensureIndexes(): Promise<void> {
    await this.#holders.createIndexes([{ key: { expiresAt: 1 }, name: 'expires_at', expireAfterSeconds: 0 }]);
  }

  async acquire(partition: number, holder: string, now: Date, until: Date): Promise<boolean> {
    try {
      // When the lease is someone else's and still running, the filter matches nothing and the upsert's
      // insert collides with the existing `_id`: the unique index makes the check and the take one step.
      const lease = await this.#leases.findOneAndUpdate(
        { _id: partition, $or: [{ holder }, { expiresAt: { $lte: now } }] },
        { $set: { holder, expiresAt: until } },
        { upsert: true, returnDocument: 'after', ...this.#limit },
      );
      return lease?.holder === holder;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  async release(partition: number, holder: string): Promise<void> {
    await this.#leases.deleteMany({ _id: partition, holder }, this.#limit);
  }

  async announce(holder: string, _now: Date, until: Date): Promise<void> {
    // The TTL index forgets stopped holders, so nothing to prune here.
    await this.#holders.replaceOne({ _id: holder }, { expiresAt: until }, { upsert: true, ...this.#limit });
  }

  async snapshot(now: Date): Promise<{ holders: string[]; leases: PartitionLease[] }> {
    const [holders, leases] = await Promise.all([
      this.#holders
        .find({ expiresAt: { $gt: now } }, this.#limit)
        .sort({ _id: 1 })
        .toArray(),
      this.#leases
        .find({ expiresAt: { $gt: now } }, this.#limit)
        .sort({ _id: 1 })
        .toArray(),
    ]);
    return {
      holders: holders.map((entry) => entry._id),
      leases: leases.map((entry) => ({
        partition: entry._id,
        holder: entry.holder,
        expiresAt: new Date(entry.expiresAt),
      })),
    };
  }

  async close(): Promise<void> {
    // The client belongs to whoever built it (openPartitionLeases), which closes it.
  }
}
