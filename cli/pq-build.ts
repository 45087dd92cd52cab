import { writeFileSync } from 'node:fs';
import { buildManifest } from '../gateway/persisted-operations/manifest.ts';
import { manifestPath, manifestText, readOperationSources } from '../schema/operations.ts';

/** Writes schema/persisted-query-manifest.json from schema/operations/*.graphql (a test checks it is current). */
const manifest = buildManifest(readOperationSources());
writeFileSync(manifestPath, manifestText(manifest));
console.log(`wrote ${manifestPath} (${manifest.operations.length} operations)`);
for (const { name, id } of manifest.operations) console.log(`  ${id}  ${name}`);
