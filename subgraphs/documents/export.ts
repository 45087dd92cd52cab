import type { DocumentRecord } from '../../server/documents/model.ts';
import type { DocumentScan, ScanPosition } from './document-store.ts';

/** A document in the import format (`importDocuments` reads it back as the same document, under the same id). */
export const exportLine = (document: DocumentRecord): string =>
  JSON.stringify({
    id: document.id,
    title: document.title,
    body: document.body,
    tags: document.tags,
    author: document.author,
    status: document.status,
  });

/** Every live document of the tenant in id order, a page at a time, so memory stays constant whatever its size. */
export async function* exportDocuments(
  scan: DocumentScan,
  tenantId: string,
  pageSize = 500,
): AsyncGenerator<DocumentRecord> {
  let after: ScanPosition | undefined;
  for (;;) {
    const page = await scan.scan({ tenantId, after, limit: pageSize });
    yield* page;
    const last = page.at(-1);
    if (!last || page.length < pageSize) return;
    after = { tenantId, id: last.id };
  }
}
