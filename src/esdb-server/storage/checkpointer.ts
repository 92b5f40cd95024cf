import { Worker } from 'node:worker_threads';

/** What the writer's side gives the thread. */
export interface CheckpointThreadData {
  readonly file: string;
  /** Int32s at the `STATE_` indexes, so the writer can read a round's outcome without an event-loop turn. */
  readonly state: SharedArrayBuffer;
}

/** {@link THREAD_OPEN} until the thread's connection is closed. */
export const STATE_OPEN = 0;
/** Rounds ended, and the last one's figures (SQLite's `wal_checkpoint` row; busy -1: it failed). */
export const STATE_ENDED = 1;
export const STATE_BUSY = 2;
export const STATE_LOG = 3;
export const STATE_CHECKPOINTED = 4;
export const STATE_LENGTH = 5;

export const THREAD_OPEN = 0;
export const THREAD_CLOSED = 1;
/** The key of {@link CheckpointThreadData} in the thread's workerData. */
export const THREAD_DATA = 'opx.checkpoint-thread';
export const CHECKPOINT = 'checkpoint';
export const CLOSE = 'close';

/** A round's outcome: SQLite's `wal_checkpoint` row (frames in the WAL, frames copied); busy -1 when it failed. */
export interface RoundResult {
  readonly busy: number;
  readonly log: number;
  readonly checkpointed: number;
}

/**
 * A checkpoint once the WAL holds about this many pages (SQLite's autocheckpoint: 1,000). Off the
 * event loop a larger WAL stalls nothing, and a page written several times between checkpoints is
 * copied once: 4,000 took ~9% less CPU per append than 1,000 (docs/performance.md).
 */
const DEFAULT_FRAMES = 4_000;
/** Frames since the WAL last started over past which the writer checkpoints itself (see {@link WalCheckpointer}). */
const CAP_FACTOR = 4;
/** How long closing waits for the thread to close its connection before closing the writer's. */
const CLOSE_WAIT_MS = 5_000;

export interface CheckpointOptions {
  /** WAL pages written (estimated) after which a checkpoint starts; default 4,000 (SQLite's autocheckpoint: 1,000). */
  readonly frames?: number;
  /** false: every checkpoint runs on the writer's connection, between commits (no thread). Default true. */
  readonly inThread?: boolean;
}

/** How the checkpoints went so far. */
export interface CheckpointStats {
  /** Rounds run in the thread, and those of them that copied everything with no commit made meanwhile. */
  readonly rounds: number;
  readonly complete: number;
  /** Checkpoints run on the writer's connection (the cap reached, or no thread). */
  readonly inline: number;
}

/**
 * Checkpoints a WAL-mode database off the writer's event loop. SQLite's autocheckpoint runs in the
 * commit that crosses 1,000 WAL pages: it copies them into the database file and fsyncs it, ~10 ms
 * here every ~30-40 commits, during which the server answers nothing. The writer's connection has
 * it off; this runs a PASSIVE checkpoint from a second connection in a thread instead, started
 * right after the commit that crosses the threshold ({@link DEFAULT_FRAMES}; so it overlaps that
 * commit's flush).
 *
 * The WAL starts over (its next commit written from the start of the file) only when a checkpoint
 * copied all of it, so one that ran while commits were made leaves a tail: another round starts
 * after the next commit, when the tail is small, while a writer that can waits for it
 * ({@link gate}). Should a tail's round too see commits made meanwhile (a writer that does not wait,
 * a synchronous loop), the writer runs one itself (a short one: only the tail) once
 * {@link CAP_FACTOR} times the threshold was written since the WAL last started over, so the WAL
 * stays bounded. Durability is SQLite's:
 * the checkpointing connection (synchronous=FULL) syncs the WAL before copying and the database
 * file before counting frames as copied, and the writer's flushes are unchanged.
 */
export class WalCheckpointer {
  readonly #frames: number;
  readonly #cap: number;
  #thread: Worker | undefined;
  readonly #state = new Int32Array(new SharedArrayBuffer(4 * STATE_LENGTH));
  #threadFailed: boolean;
  /** Estimated frames not known to be copied, and since the WAL last started over. */
  #pending = 0;
  #sinceRestart = 0;
  #commits = 0;
  /** The round under way: the frames and commits there were when it started. */
  #round: { readonly pending: number; readonly commits: number; readonly tail: boolean; readonly ended: number } | undefined;
  /** The last round left frames written while it ran: start another after the next commit. */
  #tail = false;
  /** A tail's round too saw commits made while it ran (a writer that does not wait at the gate). */
  #tailMissed = false;
  #idle: (() => void)[] = [];
  #closed = false;
  readonly #stats = { rounds: 0, complete: 0, inline: 0 };

  /** `inline`: a PASSIVE checkpoint on the writer's connection, for the cap and when there is no thread. */
  constructor(
    private readonly file: string,
    private readonly inline: () => RoundResult,
    options: CheckpointOptions = {},
  ) {
    this.#frames = options.frames ?? DEFAULT_FRAMES;
    this.#cap = CAP_FACTOR * this.#frames;
    this.#threadFailed = options.inThread === false;
  }

  stats(): CheckpointStats {
    return { ...this.#stats };
  }

  /** A commit was made that wrote about `frames` pages to the WAL (the writer is out of its transaction). */
  written(frames: number): void {
    if (this.#closed) return;
    this.#pending += frames;
    this.#sinceRestart += frames;
    this.#commits++;
    this.#poll();
    if (this.#round !== undefined) return;
    if (this.#thread === undefined && this.#pending >= this.#frames / 2) this.#threadOf(); // started before its first round is due
    if (this.#threadFailed ? this.#pending >= this.#frames : this.#sinceRestart >= this.#cap && this.#tailMissed) return this.#inline();
    if (this.#pending >= this.#frames || (this.#tail && this.#pending > 0)) this.#start();
  }

  /**
   * While a round copies a tail (the frames written during the round before), a promise of its
   * end: a commit made meanwhile would leave a tail again, and the WAL would not start over. A
   * writer that can wait off its event loop (the server's commit queue) waits for it before its
   * next commit; its last commit's writers are answered meanwhile.
   */
  gate(): Promise<void> | undefined {
    this.#poll();
    return this.#round?.tail === true ? this.idle() : undefined;
  }

  /** Resolves when no round is under way (for tests and closing). */
  idle(): Promise<void> {
    this.#poll();
    if (this.#round === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #start(): void {
    const thread = this.#threadOf();
    if (thread === undefined) return this.#inline();
    this.#round = { pending: this.#pending, commits: this.#commits, tail: this.#tail && this.#pending < this.#frames, ended: Atomics.load(this.#state, STATE_ENDED) };
    this.#stats.rounds++;
    thread.postMessage(CHECKPOINT);
  }

  /**
   * Takes the outcome of the round under way if it has ended: read from the shared state, so a
   * writer committing in a loop without yielding to its event loop sees it too.
   */
  #poll(): void {
    const round = this.#round;
    if (round === undefined || Atomics.load(this.#state, STATE_ENDED) === round.ended) return;
    this.#ended({ busy: this.#state[STATE_BUSY]!, log: this.#state[STATE_LOG]!, checkpointed: this.#state[STATE_CHECKPOINTED]! });
  }

  #ended(result: RoundResult): void {
    const round = this.#round;
    this.#round = undefined;
    if (round !== undefined && !this.#closed) {
      if (result.busy < 0) this.#failed();
      else if (result.busy === 0 && result.log === result.checkpointed) {
        // everything the round saw is copied; with no commit since, the WAL starts over at the next
        this.#pending -= round.pending;
        this.#tail = this.#commits !== round.commits;
        this.#tailMissed = round.tail && this.#tail;
        if (!this.#tail) {
          this.#stats.complete++;
          this.#sinceRestart = 0;
        }
      } else {
        this.#tail = true; // a read held some frames back: again after the next commit
        this.#tailMissed = round.tail;
      }
    }
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }

  #inline(): void {
    this.#stats.inline++;
    const result = this.inline();
    if (result.busy !== 0 || result.log !== result.checkpointed) return;
    this.#pending = 0;
    this.#sinceRestart = 0;
    this.#tail = false;
    this.#tailMissed = false;
  }

  #threadOf(): Worker | undefined {
    if (this.#threadFailed) return undefined;
    if (this.#thread !== undefined) return this.#thread;
    const data: CheckpointThreadData = { file: this.file, state: this.#state.buffer };
    const thread = new Worker(new URL('./checkpoint-thread.js', import.meta.url), { workerData: { [THREAD_DATA]: data } });
    thread.unref();
    thread.on('message', () => this.#poll());
    thread.on('error', () => this.#failed());
    thread.on('exit', () => {
      if (!this.#closed) this.#failed();
    });
    this.#thread = thread;
    return thread;
  }

  /** The thread is gone or cannot checkpoint: from now on the writer checkpoints itself. */
  #failed(): void {
    this.#threadFailed = true;
    this.#thread = undefined;
    if (this.#round !== undefined) this.#ended({ busy: -1, log: 0, checkpointed: 0 });
  }

  /**
   * Closes the thread's connection, waiting for it (a round under way ends first), so the writer's
   * connection is the last one: closing it then checkpoints everything and removes the WAL.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const thread = this.#thread;
    this.#thread = undefined;
    if (thread === undefined) return;
    thread.postMessage(CLOSE);
    Atomics.wait(this.#state, STATE_OPEN, THREAD_OPEN, CLOSE_WAIT_MS);
  }
}
