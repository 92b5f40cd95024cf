import type BetterSqlite3 from 'better-sqlite3';
import type { CheckpointRecord, GroupRecord } from './engine.js';

/**
 * The persistent subscriptions' groups and checkpoints in the SQLite engine's database (its own
 * tables), through statements prepared once: a group's checkpoint is saved again and again.
 */
export class SubscriptionRecords {
  readonly #groups: BetterSqlite3.Statement<[], { source: string; group_name: string; settings: string }>;
  readonly #saveGroup: BetterSqlite3.Statement<[string, string, string]>;
  readonly #checkpoints: BetterSqlite3.Statement<[], { source: string; group_name: string; checkpoint: string }>;
  readonly #saveCheckpoint: BetterSqlite3.Statement<[string, string, string]>;
  readonly #deleteGroup: (source: string, group: string) => void;

  constructor(db: BetterSqlite3.Database) {
    this.#groups = db.prepare('SELECT source, group_name, settings FROM subscription_groups');
    this.#saveGroup = db.prepare(
      `INSERT INTO subscription_groups (source, group_name, settings) VALUES (?, ?, ?)
       ON CONFLICT (source, group_name) DO UPDATE SET settings = excluded.settings`,
    );
    this.#checkpoints = db.prepare('SELECT source, group_name, checkpoint FROM subscription_checkpoints');
    this.#saveCheckpoint = db.prepare(
      `INSERT INTO subscription_checkpoints (source, group_name, checkpoint) VALUES (?, ?, ?)
       ON CONFLICT (source, group_name) DO UPDATE SET checkpoint = excluded.checkpoint`,
    );
    const deleteGroup = db.prepare<[string, string]>('DELETE FROM subscription_groups WHERE source = ? AND group_name = ?');
    const deleteCheckpoint = db.prepare<[string, string]>('DELETE FROM subscription_checkpoints WHERE source = ? AND group_name = ?');
    this.#deleteGroup = db.transaction((source: string, group: string) => {
      deleteGroup.run(source, group);
      deleteCheckpoint.run(source, group);
    });
  }

  loadGroups(): GroupRecord[] {
    return this.#groups.all().map((r) => ({ source: r.source, group: r.group_name, settings: r.settings }));
  }

  saveGroup(record: GroupRecord): void {
    this.#saveGroup.run(record.source, record.group, record.settings);
  }

  deleteGroup(source: string, group: string): void {
    this.#deleteGroup(source, group);
  }

  loadCheckpoints(): CheckpointRecord[] {
    return this.#checkpoints.all().map((r) => ({ source: r.source, group: r.group_name, checkpoint: r.checkpoint }));
  }

  saveCheckpoint(record: CheckpointRecord): void {
    this.#saveCheckpoint.run(record.source, record.group, record.checkpoint);
  }
}
