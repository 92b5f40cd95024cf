/**
 * The replay audit in its worker thread (src/cli/replay-thread.ts), on a real data dir holding the
 * golden history: the same report as the audit run in this thread, under the heap it was given,
 * with progress, and errors that keep their codes (so the CLI's exit codes hold).
 */
import { join } from 'node:path';

import { expect } from 'chai';

import { exitCodeOf, EXIT } from '../../src/cli/exit-codes.js';
import { AuditHeapExhausted, auditInThread, DEFAULT_AUDIT_HEAP_MB, READER_HEAP_MB, type ThreadAuditRequest } from '../../src/cli/replay-thread.js';
import { DEFAULT_CONFIG_DIR, loadConfig } from '../../src/container/config.js';
import { startEmbeddedServer } from '../../src/esdb-server/server.js';
import { EmbeddedReader } from '../../src/eventstore/embedded/embedded-reader.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';
import { importHistory } from '../../src/replay/history-file.js';
import { auditHistory } from '../../src/replay/history-audit.js';
import { OpxError, StoreUnavailable } from '../../src/shared/errors.js';
import { goldenHistoryLines } from '../support/golden.js';
import { tempDir, withDataDir } from './opx-cli.js';

describe('the replay audit thread', function () {
  this.timeout(60_000);
  let dir: string;
  let request: ThreadAuditRequest;

  before(async () => {
    dir = join(tempDir('audit-thread'), 'data');
    await withDataDir(dir, (store) => importHistory(store, goldenHistoryLines()));
    request = { selection: { kind: 'data', dir, explicit: true, create: false }, configDir: DEFAULT_CONFIG_DIR, options: {} };
  });

  it('reports exactly what the audit reports when run in this thread, under the heap it was given', async () => {
    const progress: number[] = [];
    const { report, heapLimitMb } = await auditInThread({ ...request, options: { concurrency: 4, liveWindow: 8 } }, { heapMb: 40, onProgress: (n) => progress.push(n) });
    const reader = EmbeddedReader.open(dir);
    try {
      const here = await auditHistory(loadConfig(), reader, { concurrency: 4, liveWindow: 8 });
      expect(report).to.deep.equal(here);
    } finally {
      await reader.close();
    }
    expect(report.verdict).to.equal('IDENTICAL');
    expect(report.eventsRead).to.be.greaterThan(1_000);
    // V8's limit is the old generation asked for plus the young generation's (48 MB on node 20).
    expect(heapLimitMb).to.be.at.least(40).and.below(40 + 64);
    expect(progress).to.deep.equal(Array.from({ length: Math.floor(report.eventsRead / 10_000) }, (_, i) => (i + 1) * 10_000));
  });

  it('runs under the default heap limit, not the machine-sized one of the main thread', async () => {
    const { heapLimitMb } = await auditInThread(request, { heapMb: DEFAULT_AUDIT_HEAP_MB });
    expect(heapLimitMb).to.be.at.least(DEFAULT_AUDIT_HEAP_MB).and.below(DEFAULT_AUDIT_HEAP_MB + 64);
  });

  it('fails with AuditHeapExhausted, naming --heap-mb, when the heap is too small', async () => {
    const error = await auditInThread(request, { heapMb: 2 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(AuditHeapExhausted);
    expect((error as Error).message).to.include('2 MB').and.include('--heap-mb');
  });

  it('through EventStoreDB, reads in a thread of its own and reports exactly what the audit reports reading through the client itself', async () => {
    const server = await startEmbeddedServer({ insecure: true });
    const client = EsdbEventStore.fromConnectionString(server.connectionString);
    try {
      await importHistory(client, goldenHistoryLines());
      const selection = { kind: 'connection', connectionString: server.connectionString, from: 'flag' } as const;
      const options = { concurrency: 3, liveWindow: 4 };
      const { report, readerHeapLimitMb } = await auditInThread({ ...request, selection, options }, { heapMb: DEFAULT_AUDIT_HEAP_MB });
      // read by a thread of its own, under its own heap limit
      expect(readerHeapLimitMb).to.be.at.least(READER_HEAP_MB).and.below(READER_HEAP_MB + 64);
      const here = await auditHistory(loadConfig(), client, options);
      expect(report).to.deep.equal(here);
      expect(report.verdict).to.equal('IDENTICAL');
      expect(report.eventsRead).to.equal(goldenHistoryLines().length);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("keeps a store error's code across the thread boundary (exit 3 for an unreachable EventStoreDB)", async () => {
    const unreachable: ThreadAuditRequest = { ...request, selection: { kind: 'connection', connectionString: 'esdb://127.0.0.1:1?tls=false', from: 'flag' } };
    const error = await auditInThread(unreachable, { heapMb: 64 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(OpxError.hasCode(error, StoreUnavailable.code), String(error)).to.equal(true);
    expect(exitCodeOf(error)).to.equal(EXIT.STORE_UNAVAILABLE);
  });
});
