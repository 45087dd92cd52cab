import type { Principal } from '../server/auth/jwt-verifier.ts';
import type { CacheStatus } from '../server/observability/request-outcome.ts';
import type { AdmissionVerdict } from './admission/admission.ts';
import type { StoreTicket } from './response-cache/response-cache.ts';

/** Per-request state at the gateway; created only for a verified token. */
export interface GatewayContext {
  principal: Principal;
  /** Aborts when the client closes its connection before the answer: its subgraph queries stop. */
  clientGone?: AbortSignal;
  /** How the response cache served the request, for the request log; unset when it is off. */
  cacheStatus?: CacheStatus;
  /** Set when the response cache missed this request: where its response may be stored. */
  responseCacheTicket?: StoreTicket;
  /**
   * Set with the ticket. Apollo runs on a copy of this object but shares what
   * it holds: its plugin sets `keep` once the response may be stored, and
   * the HTTP server calls it with the body it sends.
   */
  responseToKeep?: { keep?: (body: string) => void };
  /** Set when the request reaches Apollo already judged by admission (see `AdmissionVerdict`). */
  admission?: AdmissionVerdict;
  /** The gateway's own request (a response-cache refresh), not a client's: metrics do not count it. */
  gatewayInitiated?: boolean;
  /** The tenant's generations, read at the first entity fetch when the response cache did not read them. */
  entityGenerations?: Promise<string | undefined>;
  /** Set when a subgraph answered with a stale page (`extensions.stale`): such a response is never cached. */
  servedStale?: boolean;
}
