import cliProgress from 'cli-progress';

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
    if (this.json) this.io.stdout.write(JSON.stringify(value, jsonReplacer) + '\n');
    else this.io.stdout.write(human().join('\n') + '\n');
  }

  /** A human-only note on stderr (never in --json mode, which keeps stderr for errors). */
  note(message: string): void {
    if (!this.json) this.io.stderr.write(message + '\n');
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

/** A plain left-aligned table; the last column is not padded. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
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
