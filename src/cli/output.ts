import { closeSync, constants, copyFileSync, existsSync, linkSync, lstatSync, openSync, readSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import cliProgress from 'cli-progress';

import { OpxError } from '../shared/errors.js';

/** Where a command writes: results to stdout, diagnostics to stderr. Injectable for tests. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };

/**
 * A command's result: one JSON document with `--json` (stable field names, for machines), or
 * the human lines otherwise. Either way it is written once, at the end.
 */
export class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  result(value: unknown, human: () => readonly string[]): void {
    if (this.json) this.io.stdout.write(jsonText(value) + '\n');
    // Every line may carry recorded strings: none reaches the terminal with a control character in it.
    else this.io.stdout.write(human().map(terminalSafe).join('\n') + '\n');
  }

  /** A human-only note on stderr (never in --json mode, which keeps stderr for errors). */
  note(message: string): void {
    if (!this.json) this.io.stderr.write(terminalSafe(message) + '\n');
  }

  /**
   * A progress display for long work, only when stdout is a terminal (never in pipes, files or
   * --json): a bar when the total is known, a running count otherwise.
   */
  progress(label: string, total?: number): Progress {
    if (this.json || this.io.stdout.isTTY !== true) return silentProgress;
    const format = total === undefined ? `${label} {value} events | {duration_formatted}` : `${label} [{bar}] {percentage}% | {value}/{total} | eta {eta_formatted}`;
    const bar = new cliProgress.SingleBar({ format, stream: this.io.stderr, hideCursor: true, clearOnComplete: true, etaBuffer: 50, fps: 5 }, cliProgress.Presets.shades_classic);
    bar.start(total ?? 0, 0);
    return {
      update: (value) => bar.update(value),
      stop: () => bar.stop(),
    };
  }
}

export interface Progress {
  update(value: number): void;
  stop(): void;
}

const silentProgress: Progress = { update: () => undefined, stop: () => undefined };

/** bigint positions and revisions print as decimal strings. */
export const jsonReplacer = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value);

/**
 * What a terminal acts on instead of printing: C0 controls (ESC starts ANSI and OSC sequences; CR
 * rewrites a line; a newline forges one), DEL, C1 controls (U+009B is a one-character CSI), the
 * line and paragraph separators, and the bidirectional overrides and isolates that reorder what
 * is shown (Trojan Source).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\x1b' };

const escapeOne = (c: string): string => {
  const named = NAMED_ESCAPES[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
};

/**
 * One line of human output made safe to print: every character a terminal would act on is shown
 * escaped (`\x1b`, `\r`, `\n`, `\u{202e}`) instead. Every human line the CLI prints goes through
 * it (Output), so a value recorded by anyone (a signal's labels, an operator's justification)
 * cannot move the cursor, retitle the window, hide text or forge a line of output.
 */
export function terminalSafe(text: string): string {
  return text.replace(TERMINAL_UNSAFE, escapeOne);
}

/** Text of several lines (help, commander's messages): each line made {@link terminalSafe}. */
export const terminalSafeLines = (text: string): string => text.split('\n').map(terminalSafe).join('\n');

/** In JSON text these can only be inside strings; JSON.stringify leaves them raw, \u escapes mean the same. */
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * A value as JSON text that is also safe on a terminal: JSON.stringify escapes C0 controls but not
 * DEL, C1 or the bidirectional controls; those are written as `\uXXXX` escapes, the same JSON value.
 */
export function jsonText(value: unknown, space?: number): string {
  return JSON.stringify(value, jsonReplacer, space).replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A plain left-aligned table; the last column is not padded. Cells are made {@link terminalSafe} before they are measured. */
export function table(header: readonly string[], unsafeRows: ReadonlyArray<readonly string[]>): string[] {
  const rows = unsafeRows.map((row) => row.map(terminalSafe));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Tells a person (stderr) which recorded events the read models passed over, so a malformed one is never silent. */
export function notePoison(ctx: { readonly output: Output }, poison: ReadonlyArray<{ readonly streamId: string; readonly revision: string; readonly type: string; readonly problem: string }>): void {
  if (poison.length === 0) return;
  ctx.output.note(`warning: ${poison.length} recorded event${poison.length === 1 ? '' : 's'} could not be read and ${poison.length === 1 ? 'was' : 'were'} passed over:`);
  for (const p of poison.slice(0, 10)) ctx.output.note(`  ${p.streamId}@${p.revision} ${p.type}: ${p.problem.slice(0, 200)}`);
}

/** Tells a person (stderr) which rows the read models got wrong against their streams (what is shown is the streams'). */
export function noteMismatches(ctx: { readonly output: Output }, mismatches: ReadonlyArray<{ readonly id: string; readonly field: string; readonly readModel: unknown; readonly stream: unknown }>): void {
  if (mismatches.length === 0) return;
  ctx.output.note(`warning: the read models disagree with the streams on ${mismatches.length} field${mismatches.length === 1 ? '' : 's'}; showing what the streams say (repair: opx projections rebuild --replace):`);
  for (const m of mismatches.slice(0, 10)) ctx.output.note(`  ${m.id} ${m.field}: read model ${JSON.stringify(m.readModel)}, stream ${JSON.stringify(m.stream)}`);
}

/** A report file that would overwrite a store, or an existing file without --force. */
export class ReportRefused extends OpxError {
  static readonly code = 'opx.cli.report_refused';

  private constructor(message: string) {
    super(ReportRefused.code, message);
  }

  static storeFile(path: string, why: string): ReportRefused {
    return new ReportRefused(`--report ${path} is refused: ${why}; a report never overwrites a store (choose a file outside the data dir)`);
  }

  static exists(path: string): ReportRefused {
    return new ReportRefused(`--report ${path} exists: give --force to overwrite it, or choose another file`);
  }

  static notAFile(path: string): ReportRefused {
    return new ReportRefused(`--report ${path} is a directory, not a file`);
  }
}

/** The embedded store's files: a data dir holds them, and its lock. */
const STORE_FILE = /^opx-store\.sqlite(?:-wal|-shm|-journal)?$|^opx\.lock$/;
const SQLITE_MAGIC = 'SQLite format 3\u0000';

/**
 * Writes a report file. Never over a store: not a store's file, nor any file in a data dir, nor
 * any SQLite database, even with `force`. Never over an existing file without `force`. The report
 * is written to a temporary file beside the target first (0600: it holds recorded data) and then
 * linked into place without replacing anything, or with `force` renamed over the old one: a failed
 * write leaves no half-written report and the old file as it was.
 */
export function writeReportFile(path: string, content: string, options: { readonly force: boolean }): void {
  const target = checkReportTarget(path, options);
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  writeFileSync(temporary, content, { flag: 'wx', mode: 0o600 });
  try {
    if (options.force) renameSync(temporary, target);
    else placeWithoutReplacing(temporary, target, path);
  } finally {
    rmSync(temporary, { force: true });
  }
}

/**
 * Refuses a report target {@link writeReportFile} would refuse, before the work that makes the
 * report (an audit may run for minutes); returns it resolved.
 */
export function checkReportTarget(path: string, options: { readonly force: boolean }): string {
  const target = resolve(path);
  refuseStoreTarget(path, target);
  if (!options.force && (existsSync(target) || isSymlink(target))) throw ReportRefused.exists(path);
  return target;
}

function placeWithoutReplacing(temporary: string, target: string, path: string): void {
  try {
    linkSync(temporary, target); // fails if anything appeared there meanwhile: nothing is replaced
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw ReportRefused.exists(path);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw error;
    copyFileSync(temporary, target, constants.COPYFILE_EXCL); // a file system without hard links
  }
}

function refuseStoreTarget(path: string, target: string): void {
  let real = target;
  try {
    real = realpathSync(target); // a link to a store file is a store file
  } catch {
    // not there yet: its directory decides
  }
  if (existsSync(real) && statSync(real).isDirectory()) throw ReportRefused.notAFile(path);
  if (STORE_FILE.test(basename(real)) || STORE_FILE.test(basename(target))) throw ReportRefused.storeFile(path, "it is an embedded store's file");
  for (const dir of new Set([dirname(real), dirname(target)])) {
    if (existsSync(join(dir, 'opx-store.sqlite')) || existsSync(join(dir, 'opx.lock'))) throw ReportRefused.storeFile(path, `${dir} is a data dir`);
  }
  if (existsSync(real) && startsWithSqliteMagic(real)) throw ReportRefused.storeFile(path, 'it is a SQLite database');
}

function startsWithSqliteMagic(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(SQLITE_MAGIC.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.toString('latin1') === SQLITE_MAGIC;
  } finally {
    closeSync(fd);
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
