import {
  DocumentExistsError,
  type DocumentStore,
  type NewDocument,
} from '../subgraphs/documents/document-store.ts';

export const demoTenants = ['acme', 'globex'] as const;

const demoDocuments: Record<(typeof demoTenants)[number], NewDocument[]> = {
  acme: [
    {
      title: 'Onboarding guide for new engineers',
      body: 'Start with the architecture overview, then set up your laptop and run the test suite. Ask questions in the engineering channel.',
      tags: ['onboarding', 'engineering'],
      author: 'ada',
      status: 'PUBLISHED',
    },
    {
      title: 'Incident review: search latency spike',
      body: 'Search latency rose to two seconds when the index was rebuilt during peak traffic. We now rebuild indexes at night and alert on p99 latency.',
      tags: ['incident', 'search'],
      author: 'grace',
      status: 'PUBLISHED',
    },
    {
      title: 'Quarterly roadmap',
      body: 'Faster search, federated reporting and a partner API are the three themes for the quarter.',
      tags: ['planning'],
      author: 'ada',
      status: 'DRAFT',
    },
    {
      title: 'Runbook: rotating signing keys',
      body: 'Publish the new key in the JWKS, wait for caches to refresh, switch signing to the new key, then retire the old one.',
      tags: ['security', 'runbook'],
      author: 'linus',
      status: 'PUBLISHED',
    },
    {
      title: 'Search relevance tuning notes',
      body: 'Title matches should outrank body matches. Stemming lets "running" find "run". Facets help users narrow results.',
      tags: ['search', 'engineering'],
      author: 'grace',
      status: 'ARCHIVED',
    },
  ],
  globex: [
    {
      title: 'Globex sales playbook',
      body: 'Qualify the lead, demo the product, and follow up within two days. Search the CRM before every call.',
      tags: ['sales'],
      author: 'hank',
      status: 'PUBLISHED',
    },
    {
      title: 'Security policy',
      body: 'Every service verifies tokens. Keys rotate quarterly. Incidents are reported within one hour.',
      tags: ['security', 'policy'],
      author: 'mindy',
      status: 'PUBLISHED',
    },
    {
      title: 'Engineering onboarding checklist',
      body: 'Get access to the repositories, read the search architecture notes, and pair with a mentor in week one.',
      tags: ['onboarding'],
      author: 'hank',
      status: 'DRAFT',
    },
  ],
};

/** Seeds a few documents per demo tenant under fixed ids, so running it again writes nothing. */
export async function seedDemoDocuments(store: DocumentStore): Promise<number> {
  let created = 0;
  for (const tenantId of demoTenants) {
    for (const [position, document] of demoDocuments[tenantId].entries()) {
      try {
        await store.create(tenantId, document, `${tenantId}-demo-${position + 1}`);
        created += 1;
      } catch (error) {
        if (!(error instanceof DocumentExistsError)) throw error;
      }
    }
  }
  return created;
}
