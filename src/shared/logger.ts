/**
 * The logging port: the subset of pino's API the module uses, so a host can inject its own
 * pino (or anything shaped like it). Structured first: `logger.warn({ candidateId }, 'message')`.
 */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child(bindings: object): Logger;
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

/** Records every entry: for tests that prove a failure was logged, not thrown. */
export class RecordingLogger implements Logger {
  readonly entries: Array<{ level: 'debug' | 'info' | 'warn' | 'error'; fields: object; message: string }> = [];

  debug(fields: object, message: string): void {
    this.entries.push({ level: 'debug', fields, message });
  }
  info(fields: object, message: string): void {
    this.entries.push({ level: 'info', fields, message });
  }
  warn(fields: object, message: string): void {
    this.entries.push({ level: 'warn', fields, message });
  }
  error(fields: object, message: string): void {
    this.entries.push({ level: 'error', fields, message });
  }
  child(): Logger {
    return this;
  }
}
