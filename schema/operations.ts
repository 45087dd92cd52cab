import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Partners' operations, one `.graphql` file each; `npm run pq:build` turns them into the manifest. */
export const operationsDir = fileURLToPath(new URL('./operations/', import.meta.url));
export const manifestPath = fileURLToPath(new URL('./persisted-query-manifest.json', import.meta.url));

export function readOperationSources(): { file: string; text: string }[] {
  return readdirSync(operationsDir)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => ({ file, text: readFileSync(new URL(`./operations/${file}`, import.meta.url), 'utf8') }));
}

export function manifestText(manifest: unknown): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
