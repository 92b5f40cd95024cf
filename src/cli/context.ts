import type { Command } from 'commander';
import { Container, ContainerModule } from 'inversify';

import { resolve } from 'node:path';

import { DEFAULT_CONFIG_DIR, loadConfig, type OpxConfig } from '../container/config.js';
import { orchestrationModule } from '../container/modules.js';
import { correlationModule } from '../correlation/module.js';
import { TOKENS } from '../container/tokens.js';
import type { EventStore } from '../eventstore/event-store.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { InvalidInput, OpxError } from '../shared/errors.js';
import { Output, type CliIo } from './output.js';
import { lockDataDir, openHistory, openStore, selectStore, type OpenedStore, type StoreOptions, type StoreSelection } from './store-selection.js';

/**
 * The commands that may create the default data dir (./.opx-data) when it is missing: the ones that
 * record what comes in. Every other command on a missing default store is told so, instead of
 * answering from a new empty one ("no incidents", "IDENTICAL").
 */
const CREATES_DEFAULT_STORE: ReadonlySet<string> = new Set(['signals ingest', 'demo', 'store serve', 'serve']);

/** The global options every command inherits. */
export interface GlobalOptions extends StoreOptions {
  readonly json?: boolean;
}

/**
 * What a command runs with: the output, the clock (the CLI is the edge where human commands are
 * stamped), the config, and the selected store, opened on first use and closed once at exit.
 * The orchestration container is composed here, the CLI's composition root.
 */
export class CliContext {
  readonly output: Output;
  private opened: OpenedStore | undefined;
  private loadedConfig: OpxConfig | undefined;
  private container: Container | undefined;
  private releaseLock: (() => void) | undefined;

  constructor(
    readonly options: GlobalOptions,
    readonly io: CliIo,
    readonly commandName: string,
    readonly clock: Clock = systemClock,
  ) {
    this.output = new Output(io, options.json === true);
  }

  static of(command: Command, io: CliIo): CliContext {
    return new CliContext(command.optsWithGlobals<GlobalOptions>(), io, commandPath(command));
  }

  /** Where the config is read from: OPX_CONFIG_DIR, or the package's config/. */
  get configDir(): string {
    const fromEnv = process.env['OPX_CONFIG_DIR'];
    return fromEnv === undefined || fromEnv.trim() === '' ? DEFAULT_CONFIG_DIR : fromEnv;
  }

  get config(): OpxConfig {
    if (this.loadedConfig !== undefined) return this.loadedConfig;
    const fromEnv = process.env['OPX_CONFIG_DIR'];
    const dir = this.configDir;
    try {
      this.loadedConfig = loadConfig(dir);
    } catch (error) {
      if (OpxError.is(error)) throw error;
      throw new InvalidInput(`config dir ${resolve(dir)}${fromEnv === undefined ? '' : ' (OPX_CONFIG_DIR)'}`, [(error as Error).message], { cause: error });
    }
    return this.loadedConfig;
  }

  async store(): Promise<EventStore> {
    this.opened ??= await openStore(this.selection(), `opx ${this.commandName}`);
    return this.opened.store;
  }

  /** The selected store for a long read of history (see openHistory); not to be mixed with {@link store}. */
  async history(): Promise<EventStore> {
    this.opened ??= await openHistory(this.selection(), `opx ${this.commandName}`);
    return this.opened.store;
  }

  /**
   * The selected store, for another thread of this process to open itself (the replay audit's
   * worker): a data dir is locked here for this process, until {@link close}.
   */
  historySelection(): StoreSelection {
    const selection = this.selection();
    if (selection.kind === 'data' && this.releaseLock === undefined) this.releaseLock = lockDataDir(selection, `opx ${this.commandName}`);
    return selection;
  }

  /** The store the options name, for this command (see {@link CREATES_DEFAULT_STORE}). */
  selection(): StoreSelection {
    return selectStore(this.options, process.env, { createDefault: CREATES_DEFAULT_STORE.has(this.commandName) });
  }

  get storeDescription(): string {
    return this.opened?.description ?? '';
  }

  /** The orchestration container over the selected store and the loaded config. */
  async services(): Promise<Container> {
    if (this.container !== undefined) return this.container;
    const store = await this.store();
    const config = this.config;
    const container = new Container();
    container.load(
      orchestrationModule({ config }),
      correlationModule(),
      new ContainerModule(({ bind }) => {
        bind(TOKENS.EventStore).toConstantValue(store);
      }),
    );
    this.container = container;
    return container;
  }

  async close(): Promise<void> {
    // The attempt log writes behind orchestration: what a command queued is written before the store closes.
    await this.container?.get(TOKENS.OrchestrationStore).flush();
    const opened = this.opened;
    this.opened = undefined;
    if (opened !== undefined) await opened.close();
    this.releaseLock?.();
    this.releaseLock = undefined;
  }
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
