import { writeFileSync } from 'node:fs';
import { composeSupergraph } from '../schema/compose.ts';
import { supergraphPath } from '../schema/subgraphs.ts';

writeFileSync(supergraphPath, composeSupergraph());
console.log(`wrote ${supergraphPath}`);
