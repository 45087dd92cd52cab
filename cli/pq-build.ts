import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  buildManifest,
  InvalidManifestError,
  loadManifest,
} from '../gateway/persisted-operations/manifest.ts';
import { manifestValidation } from '../gateway/persisted-operations/manifest-validation.ts';
import { manifestPath, manifestText, operationsDir, readOperationSources } from '../schema/operations.ts';
import { ConfigError } from '../server/config.ts';
import { loadOperationLimitsConfig } from './config.ts';

/**
 * Writes schema/persisted-query-manifest.json from schema/operations/*.graphql
 * (a test checks it is current), after validating every operation against the
 * supergraph and the operation limits the gateway is configured with (the
 * same LIMIT_* and SUPERGRAPH_PATH variables). Nothing is written when one fails.
 */
function main() {
  const config = loadOperationLimitsConfig();
  const validation = manifestValidation(
    readFileSync(config.gateway.supergraphPath, 'utf8'),
    config.gateway.limits,
  );
  const sources = readOperationSources().map(({ file, text }) => ({
    file: relative(process.cwd(), join(operationsDir, file)),
    text,
  }));
  const manifest = buildManifest(sources, validation);
  const text = manifestText(manifest);
  // The gateway's own load, on the exact text it will read: what passes here passes its reload.
  loadManifest(text, validation.schema, validation.rules);
  writeFileSync(manifestPath, text);
  console.log(`wrote ${manifestPath} (${manifest.operations.length} operations)`);
  for (const { name, id } of manifest.operations) console.log(`  ${id}  ${name}`);
}

try {
  main();
} catch (error) {
  if (error instanceof ConfigError) console.error(error.message);
  else if (error instanceof InvalidManifestError)
    console.error(`pq:build: ${error.message} (nothing written)`);
  else throw error;
  process.exitCode = 1;
}
