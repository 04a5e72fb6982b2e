// A stream of steps with a final result: `for await (const step of gen)` for streaming, and
// `await gen.done()` for the result (drains whatever was not consumed). Breaking out of the
// loop early ends generation with finish reason 'abort'.

export interface Generation<TStep, TResult> extends AsyncIterable<TStep> {
  /** Consumes the remaining steps and resolves to the result. */
  done(): Promise<TResult>;
}

/**
 * Wraps a generator whose `finally` block records the result (so an early `return()` from a
 * consumer's `break` still produces one) and exposes it through `done()`.
 */
export function toGeneration<TStep, TResult>(gen: AsyncGenerator<TStep, void>, getResult: () => TResult): Generation<TStep, TResult> {
  let finished = false;
  let iterated = false;
  const iterator: AsyncIterator<TStep> = {
    async next() {
      const r = await gen.next();
      if (r.done) finished = true;
      return r.done ? { done: true, value: undefined } : r;
    },
    async return() {
      await gen.return();
      finished = true;
      return { done: true, value: undefined };
    },
    async throw(e: unknown) {
      finished = true;
      await gen.throw(e);
      return { done: true, value: undefined };
    },
  };
  return {
    [Symbol.asyncIterator]() {
      if (iterated) throw new Error('a Generation can be iterated only once');
      iterated = true;
      return iterator;
    },
    async done() {
      iterated = true;
      while (!finished) await iterator.next();
      return getResult();
    },
  };
}
