import type BetterSqlite3 from 'better-sqlite3';
import type { CheckpointRecord, GroupRecord } from './engine.js';

/** The persistent subscriptions' groups and checkpoints in the SQLite engine's database (its own tables). */
export class SubscriptionRecords {
  constructor(private readonly db: BetterSqlite3.Database) {}

  loadGroups(): GroupRecord[] {
    return (
      this.db.prepare('SELECT source, group_name, settings FROM subscription_groups').all() as {
        source: string;
        group_name: string;
        settings: string;
      }[]
    ).map((r) => ({ source: r.source, group: r.group_name, settings: r.settings }));
  }

  saveGroup(record: GroupRecord): void {
    this.db
      .prepare(
        `INSERT INTO subscription_groups (source, group_name, settings) VALUES (?, ?, ?)
         ON CONFLICT (source, group_name) DO UPDATE SET settings = excluded.settings`,
      )
      .run(record.source, record.group, record.settings);
  }

  deleteGroup(source: string, group: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM subscription_groups WHERE source = ? AND group_name = ?').run(source, group);
      this.db.prepare('DELETE FROM subscription_checkpoints WHERE source = ? AND group_name = ?').run(source, group);
    })();
  }

  loadCheckpoints(): CheckpointRecord[] {
    return (
      this.db.prepare('SELECT source, group_name, checkpoint FROM subscription_checkpoints').all() as {
        source: string;
        group_name: string;
        checkpoint: string;
      }[]
    ).map((r) => ({ source: r.source, group: r.group_name, checkpoint: r.checkpoint }));
  }

  saveCheckpoint(record: CheckpointRecord): void {
    this.db
      .prepare(
        `INSERT INTO subscription_checkpoints (source, group_name, checkpoint) VALUES (?, ?, ?)
         ON CONFLICT (source, group_name) DO UPDATE SET checkpoint = excluded.checkpoint`,
      )
      .run(record.source, record.group, record.checkpoint);
  }
}
