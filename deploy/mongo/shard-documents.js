// Shards Quarry's documents collection. Run it with mongosh against a mongos:
//   mongosh "mongodb://mongos:27017" --file deploy/mongo/shard-documents.js
// Set QUARRY_DB in the environment when the database is not "quarry".
//
// Shard key { tenantId: 1, _id: 1 }, and why:
// - Every query Quarry sends names the tenant (findByIds, updates, deletes,
//   scans), so with the tenant leading the key each one goes to the shard or
//   shards holding that tenant instead of being broadcast to all of them.
// - `_id` (the tenant and document id together) makes the key unique and of
//   high cardinality, so one large tenant can still be split into chunks and
//   spread over shards; a key of tenantId alone would make each tenant one
//   unsplittable "jumbo" chunk.
// - Ranged rather than hashed: a tenant's documents stay together, which keeps
//   a tenant's batch reads on few shards. Document ids are random UUIDs, so
//   inserts within a tenant do not all hit the chunk at the end of the range.
// - Transactions across shards work (MongoDB 4.2+), so a write and its outbox
//   entry still commit together. The outbox stays unsharded on the primary
//   shard: it is small (drained within a second) and read in _id order.
// - document_tombstones (the last version of each deleted document) grows with
//   deletes, so it is sharded on the same key; every query a write sends names
//   both. Pruning (TOMBSTONE_RETENTION) reads the oldest by `deletedAt` on
//   every shard, in bounded batches, in the background.
// - document_dead_letters, like the outbox, stays unsharded: it holds only the
//   changes the indexer parked.
const dbName = process.env.QUARRY_DB || 'quarry';
const quarry = db.getSiblingDB(dbName);

// The shard key needs an index that starts with it; the services create the same one at startup.
quarry.documents.createIndex({ tenantId: 1, _id: 1 }, { name: 'tenant_id' });
quarry.documents.createIndex({ tenantId: 1, updatedAt: -1 }, { name: 'tenant_updated' });
quarry.document_tombstones.createIndex({ tenantId: 1, _id: 1 }, { name: 'tenant_id' });

sh.enableSharding(dbName);
printjson(sh.shardCollection(`${dbName}.documents`, { tenantId: 1, _id: 1 }));
printjson(sh.shardCollection(`${dbName}.document_tombstones`, { tenantId: 1, _id: 1 }));
printjson(sh.status());
