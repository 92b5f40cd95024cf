/**
 * One error base for the whole module: a stable string `code`, an optional `cause`, and a
 * brand registered with `Symbol.for` so `OpxError.is()` holds even across two copies of the
 * package. Expected outcomes (SUPPRESS, DEFER) are events, never errors.
 */
const brand = Symbol.for('opx/OpxError');

export class OpxError extends Error {
  readonly [brand] = true;

  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }

  static is(value: unknown): value is OpxError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }

  static hasCode(value: unknown, code: string): value is OpxError {
    return OpxError.is(value) && value.code === code;
  }
}

const describeRevision = (r: unknown): string => (typeof r === 'bigint' ? r.toString() : String(r));

/** Optimistic concurrency failure: the stream was not at the revision the writer saw. */
export class WrongExpectedVersion extends OpxError {
  static readonly code = 'opx.store.wrong_expected_version';

  constructor(
    readonly streamId: string,
    readonly expected: unknown,
    readonly actual: bigint | 'no_stream',
    options?: { cause?: unknown },
  ) {
    super(
      WrongExpectedVersion.code,
      `Wrong expected version on stream '${streamId}': expected ${describeRevision(expected)}, actual ${describeRevision(actual)}`,
      options,
    );
  }
}

export class StreamDeleted extends OpxError {
  static readonly code = 'opx.store.stream_deleted';

  constructor(
    readonly streamId: string,
    options?: { cause?: unknown },
  ) {
    super(StreamDeleted.code, `Stream '${streamId}' is deleted`, options);
  }
}

/** The store could not be reached or failed in a way the caller cannot fix. */
export class StoreUnavailable extends OpxError {
  static readonly code = 'opx.store.unavailable';

  constructor(message: string, options?: { cause?: unknown }) {
    super(StoreUnavailable.code, message, options);
  }
}

/** Input that does not match its schema: names the field and what is wrong with it. */
export class InvalidInput extends OpxError {
  static readonly code = 'opx.input.invalid';

  constructor(
    readonly subject: string,
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(InvalidInput.code, `Invalid ${subject}: ${problems.join('; ')}`, options);
  }
}
