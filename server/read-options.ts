/** What a caller may pass to a port's reads beside their arguments. */
export interface ReadOptions {
  /**
   * Aborted when nobody waits for the answer any more: the attempt's timeout,
   * or the client gone. The adapter then stops its backend call.
   */
  signal?: AbortSignal;
}
