/**
 * What the server reports about itself: events an operator should see (a message that could not
 * be parked, an unexpected error answered INTERNAL). The library logs nothing by default; `opx
 * store serve` writes JSON lines to stderr.
 */
export interface ServerLog {
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLog: ServerLog = { warn: () => undefined, error: () => undefined };

/** One JSON line per entry, `{"level","msg",...fields}`, to `write` (stderr by default). */
export const jsonLinesLog = (write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): ServerLog => {
  const entry =
    (level: 'warn' | 'error') =>
    (message: string, fields: Record<string, unknown> = {}): void =>
      write(JSON.stringify({ level, msg: message, ...fields }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));
  return { warn: entry('warn'), error: entry('error') };
};
