/**
 * `opx verify`, `opx seal` and the replay audit against a real data dir whose SQLite file is edited
 * underneath, as someone with access to the disk would: a byte changed in a recorded input or
 * output, a row deleted. The runtimes seal as they run (`signals ingest`, `process`).
 */
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { expect } from 'chai';

import { startEmbeddedServer } from '../../src/esdb-server/server.js';
import { rowChecksum, type UncheckedRow } from '../../src/esdb-server/storage/sqlite-schema.js';
import type { HistoryAuditReport } from '../../src/replay/history-audit.js';
import { importHistory } from '../../src/replay/history-file.js';
import type { IntegrityReport } from '../../src/integrity/verify.js';
import { opx, tempDir, withDataDir } from '../cli/opx-cli.js';
import { goldenHistoryLines } from '../support/golden.js';

const signal = (id: string, service: string, severity: string, fingerprint: string, at: string): string => JSON.stringify({ signalId: id, service, severity, fingerprint, observedAt: at, labels: {} });

/**
 * Edits a stored row of a data dir no process holds, byte for byte, as someone with access to the
 * disk would: the record checksums (CRC-32, unkeyed: they catch corruption, not intent) are
 * recomputed after the edit, so only the integrity chain stands between the edit and the reader.
 * `resign: false` leaves them as they were.
 */
function editRow(dataDir: string, edit: (db: Database.Database) => void, { resign = true }: { resign?: boolean } = {}): void {
  const db = new Database(join(dataDir, 'opx-store.sqlite'));
  try {
    edit(db);
    if (resign) {
      const rows = db.prepare('SELECT position, stream, revision, event_id, type, content_type, data, metadata, created FROM events').safeIntegers(true).all() as UncheckedRow[];
      const update = db.prepare('UPDATE events SET checksum = ? WHERE position = ?');
      for (const r of rows) update.run(rowChecksum(r), r.position);
    }
  } finally {
    db.close();
  }
}


interface Row {
  stream: string;
  revision: number | bigint;
  metadata: Buffer;
  data: Buffer;
}

describe('opx verify (a data dir edited underneath)', function () {
  this.timeout(90_000);
  const cwd = tempDir('verify');
  const data = join(cwd, 'data');
  const copy = (name: string): string => {
    const target = join(cwd, name);
    cpSync(data, target, { recursive: true });
    return target;
  };

  before(async () => {
    expect((await opx(['store', 'init', data], { cwd })).code).to.equal(0);
    const file = join(cwd, 'signals.jsonl');
    writeFileSync(
      file,
      [
        signal('a-1', 'auth', 'SEV2', 'auth:LatencyP99', '2026-04-01T10:00:00Z'),
        signal('a-2', 'auth', 'SEV2', 'auth:LatencyP99', '2026-04-01T10:00:30Z'),
        signal('e-1', 'edge-proxy', 'SEV1', 'edge:5xx', '2026-04-01T11:00:00Z'),
      ].join('\n') + '\n',
    );
    expect((await opx(['--data', data, 'signals', 'ingest', file], { cwd })).code).to.equal(0);
    expect((await opx(['--data', data, 'process'], { cwd })).code).to.equal(0);
  });

  it('finds the store INTACT after ingest and process sealed it, and prints the head to keep', async () => {
    const run = await opx(['--data', data, '--json', 'verify'], { cwd });
    expect(run.code, run.stderr).to.equal(0);
    const report = run.json<IntegrityReport>();
    expect(report.verdict).to.equal('INTACT');
    expect(report.unsealed).to.equal(0);
    expect(report.eventsVerified).to.equal(report.eventsRead).and.be.greaterThan(10);
    expect(report.chain.head).to.match(/^[0-9a-f]{64}$/);
    const human = await opx(['--data', data, 'verify', '--anchor', report.chain.head as string], { cwd });
    expect(human.code).to.equal(0);
    expect(human.stdout).to.include('integrity: INTACT').and.include(`head             ${report.chain.head}`).and.include('in the chain');
  });

  it('pinpoints one byte changed in a recorded input (a signal id in a CandidateCreated): verify and replay exit 1', async () => {
    const dir = copy('input-edited');
    let edited: { stream: string; revision: string } | undefined;
    editRow(dir, (db) => {
      const row = db.prepare("SELECT stream, revision, metadata FROM events WHERE type = 'CandidateCreated' AND CAST(metadata AS TEXT) LIKE '%\"a-1\"%'").safeIntegers(true).get() as Row;
      const bytes = Buffer.from(row.metadata);
      const at = bytes.indexOf('"a-1"');
      bytes[at + 3] = '9'.charCodeAt(0); // a-1 -> a-9
      db.prepare('UPDATE events SET metadata = ? WHERE stream = ? AND revision = ?').run(bytes, row.stream, row.revision);
      edited = { stream: row.stream, revision: String(row.revision) };
    });
    const { stream, revision } = edited as { stream: string; revision: string };
    const verify = await opx(['--data', dir, '--json', 'verify'], { cwd });
    expect(verify.code).to.equal(1);
    const report = verify.json<IntegrityReport>();
    expect(report.verdict).to.equal('TAMPERED');
    expect(report.findings).to.have.length(1);
    expect(report.findings[0]).to.deep.include({ kind: 'changed', streamId: stream, revision, parts: ['metadata'], fields: ['metadata.candidate'] });
    const human = await opx(['--data', dir, 'verify'], { cwd });
    expect(human.code).to.equal(1);
    expect(human.stdout).to.include('integrity: TAMPERED').and.include(`${stream} revision ${revision}`).and.include('metadata.candidate');
    const replay = await opx(['--data', dir, '--json', 'replay'], { cwd });
    expect(replay.code).to.equal(1);
    const audit = replay.json<HistoryAuditReport>();
    expect(audit.verdict).to.equal('DIVERGENT');
    expect(audit.integrity.findings[0]).to.deep.include({ streamId: stream, fields: ['metadata.candidate'] });
    const humanReplay = await opx(['--data', dir, 'replay'], { cwd });
    expect(humanReplay.stdout).to.include('integrity        TAMPERED').and.include(`first integrity finding: changed  ${stream} revision ${revision}`);
  });

  it('an edit that leaves the record checksum as it was is refused by the store itself, naming the position (exit 1)', async () => {
    const dir = copy('corrupted');
    let position = '';
    editRow(
      dir,
      (db) => {
        const row = db.prepare("SELECT position, data FROM events WHERE type = 'IncidentOpened'").safeIntegers(true).get() as { position: bigint; data: Buffer };
        db.prepare('UPDATE events SET data = ? WHERE position = ?').run(Buffer.from(row.data.toString('utf8').replace('"SEV1"', '"SEV2"')), row.position);
        position = String(row.position);
      },
      { resign: false },
    );
    const verify = await opx(['--data', dir, '--json', 'verify'], { cwd });
    expect(verify.code).to.equal(1);
    expect(verify.stderr).to.include(`record at position ${position} is corrupt (checksum mismatch)`);
  });

  it('finds the same through EventStoreDB (--connection): verify, and replay with its reader thread', async () => {
    const dir = copy('served-edited');
    editRow(dir, (db) => {
      const row = db.prepare("SELECT stream, revision, data FROM events WHERE type = 'IncidentOpened'").safeIntegers(true).get() as Row;
      db.prepare('UPDATE events SET data = ? WHERE stream = ? AND revision = ?').run(Buffer.from(row.data.toString('utf8').replace('"SEV1"', '"SEV2"')), row.stream, row.revision);
    });
    const server = await startEmbeddedServer({ insecure: true, dataDir: dir });
    try {
      const verify = await opx(['--connection', server.connectionString, '--json', 'verify'], { cwd });
      expect(verify.code).to.equal(1);
      const finding = verify.json<IntegrityReport>().findings[0];
      expect(finding).to.deep.include({ kind: 'changed', revision: '0', fields: ['data.severity'] });
      expect(finding?.streamId).to.match(/^incident-/);
      const replay = await opx(['--connection', server.connectionString, '--json', 'replay'], { cwd });
      expect(replay.code).to.equal(1);
      expect(replay.json<HistoryAuditReport>().integrity.findings[0]).to.deep.include({ streamId: finding?.streamId, fields: ['data.severity'] });
    } finally {
      await server.close();
    }
  });

  it('pinpoints a changed output and a deleted row', async () => {
    const dir = copy('output-edited');
    let changed: { stream: string; revision: string } | undefined;
    let deleted: { stream: string; revision: string } | undefined;
    editRow(dir, (db) => {
      const decided = db.prepare("SELECT stream, revision, data FROM events WHERE type = 'PromotionDecided' ORDER BY position").safeIntegers(true).all() as Row[];
      const first = decided[0] as Row;
      const second = decided[1] as Row;
      const text = first.data.toString('utf8').replace(/"decidedAt":"2026/, '"decidedAt":"2025');
      db.prepare('UPDATE events SET data = ? WHERE stream = ? AND revision = ?').run(Buffer.from(text), first.stream, first.revision);
      db.prepare('DELETE FROM events WHERE stream = ? AND revision = ?').run(second.stream, second.revision);
      changed = { stream: first.stream, revision: String(first.revision) };
      deleted = { stream: second.stream, revision: String(second.revision) };
    });
    const run = await opx(['--data', dir, '--json', 'verify'], { cwd });
    expect(run.code).to.equal(1);
    const findings = run.json<IntegrityReport>().findings;
    expect(findings.find((f) => f.kind === 'changed')).to.deep.include({ streamId: changed?.stream, revision: changed?.revision, fields: ['data.decidedAt'] });
    expect(findings.find((f) => f.kind === 'deleted')).to.deep.include({ streamId: deleted?.stream, revision: deleted?.revision });
  });

  it('reports a store recorded before the chain existed as UNSEALED (exit 0; 1 with --require-sealed); opx seal seals it as found', async () => {
    const golden = join(cwd, 'golden');
    await withDataDir(golden, (store) => importHistory(store, goldenHistoryLines()));
    const before = await opx(['--data', golden, '--json', 'verify'], { cwd });
    expect(before.code).to.equal(0);
    expect(before.json<IntegrityReport>()).to.deep.include({ verdict: 'UNSEALED', unsealed: goldenHistoryLines().length, findingCount: 0 });
    expect((await opx(['--data', golden, 'verify', '--require-sealed'], { cwd })).code).to.equal(1);
    const replay = await opx(['--data', golden, 'replay'], { cwd });
    expect(replay.code).to.equal(0);
    expect(replay.stdout).to.include('replay audit: IDENTICAL').and.include('integrity        UNSEALED');
    const seal = await opx(['--data', golden, '--json', 'seal'], { cwd });
    expect(seal.json()).to.include({ eventsSealed: goldenHistoryLines().length, chainStarted: true });
    const after = await opx(['--data', golden, '--json', 'verify', '--require-sealed'], { cwd });
    expect(after.code).to.equal(0);
    expect(after.json<IntegrityReport>()).to.deep.include({ verdict: 'INTACT', recordedBeforeChain: goldenHistoryLines().length, unsealed: 0 });
    const wrongAnchor = await opx(['--data', golden, 'verify', '--anchor', '0'.repeat(64)], { cwd });
    expect(wrongAnchor.code).to.equal(1);
    expect(wrongAnchor.stdout).to.include('NOT in the chain');
    expect((await opx(['--data', golden, 'verify', '--anchor', 'xyz'], { cwd })).code).to.equal(2);
  });
});
