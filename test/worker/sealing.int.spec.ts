import { expect } from 'chai';

import { loadConfig } from '../../src/container/config.js';
import { correlate } from '../../src/correlation/correlator.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';
import { INTEGRITY_STREAM } from '../../src/integrity/seal.js';
import { verifyHistory } from '../../src/integrity/verify.js';
import { generateSampleSignals } from '../../src/samples/sample-signals.js';
import { parseWorkerArgs } from '../../src/worker/main.js';
import { freePort, startStoreProcess, startWorkerProcess, waitFor, type ManagedProcess, type StoreProcess } from './support/cluster.js';
import { appendCandidates, completed, summarize } from './support/history.js';

const CANDIDATES = 40;

describe('opx worker and the integrity chain', function () {
  this.timeout(90_000);

  it('seals by default; --no-seal leaves the chain to another process', () => {
    expect(parseWorkerArgs(['--connection', 'esdb://127.0.0.1:2113?tls=false']).seal).to.equal(true);
    expect(parseWorkerArgs(['--connection', 'esdb://127.0.0.1:2113?tls=false', '--no-seal']).seal).to.equal(false);
  });

  for (const seal of [true, false]) {
    describe(seal ? 'a worker (sealing, the default)' : 'a worker started with --no-seal', () => {
      let server: StoreProcess;
      let store: EsdbEventStore;
      let worker: ManagedProcess;

      before(async () => {
        server = await startStoreProcess({ port: await freePort() });
        store = EsdbEventStore.fromConnectionString(server.connectionString);
        worker = await startWorkerProcess(`sealing-${seal}`, { connection: server.connectionString, httpPort: 0, seal });
        const candidates = correlate(generateSampleSignals({ groups: CANDIDATES + 20, seed: 7 }), loadConfig().correlationRules).slice(0, CANDIDATES);
        await appendCandidates(store, candidates, 4);
        await waitFor(async () => completed(await summarize(store)) >= candidates.length || undefined, { timeoutMs: 45_000, description: 'all candidates decided' });
      });

      after(async () => {
        await worker?.kill('SIGKILL');
        await store?.close();
        await server?.process.kill('SIGKILL');
      });

      it(seal ? 'seals what it orchestrated: verify finds every event sealed and INTACT' : 'appends nothing to the chain: verify finds the store UNSEALED', async () => {
        if (seal) {
          let report = await verifyHistory(store);
          await waitFor(async () => ((report = await verifyHistory(store)).unsealed === 0 ? true : undefined), { timeoutMs: 30_000, description: 'every event sealed' });
          expect(report.verdict).to.equal('INTACT');
          expect(report.eventsVerified).to.equal(report.eventsRead).and.be.greaterThan(CANDIDATES * 2);
        } else {
          await new Promise((resolve) => setTimeout(resolve, 1_500)); // a sealer seals within 1 s of an event
          const seals = [];
          for await (const event of store.readStream(INTEGRITY_STREAM)) seals.push(event);
          expect(seals).to.deep.equal([]);
          expect((await verifyHistory(store)).verdict).to.equal('UNSEALED');
        }
      });
    });
  }
});
