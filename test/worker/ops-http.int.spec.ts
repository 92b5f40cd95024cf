import { expect } from 'chai';
import { Registry } from 'prom-client';
import { startOpsServer } from '../../src/worker/http.js';
import { parseWorkerArgs } from '../../src/worker/main.js';
import type { WorkerHealth } from '../../src/worker/worker.js';

describe('worker /metrics and /healthz', function () {
  it('listen on 127.0.0.1 unless --http-host says otherwise', async function () {
    const ops = await startOpsServer({ port: 0, registry: new Registry(), health: () => ({ state: 'subscribed' }) as unknown as WorkerHealth });
    try {
      expect(ops.host).to.equal('127.0.0.1');
      expect((await fetch(`http://127.0.0.1:${ops.port}/healthz`)).status).to.equal(200);
    } finally {
      await ops.close();
    }
    expect(parseWorkerArgs(['--connection', 'esdb://127.0.0.1:2113?tls=false']).httpHost).to.equal('127.0.0.1');
    expect(parseWorkerArgs(['--connection', 'esdb://127.0.0.1:2113?tls=false', '--http-host', '0.0.0.0']).httpHost).to.equal('0.0.0.0');
  });
});
