/**
 * Whether `work` settles within `ms`: a bound on how long a caller waits, not a cancellation (the
 * work goes on, unwatched). A rejection of the work within the bound is the caller's to handle, as
 * it would be without one. The timer never keeps the process alive. Timing only, never a decision.
 */
export async function settlesWithin<T>(work: Promise<T>, ms: number): Promise<{ readonly settled: true; readonly value: T } | { readonly settled: false }> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<{ readonly settled: false }>((resolve) => {
    timer = setTimeout(() => resolve({ settled: false }), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.then((value) => ({ settled: true as const, value })), elapsed]);
  } finally {
    clearTimeout(timer);
  }
}
