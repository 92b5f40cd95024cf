import { expect } from 'chai';

import { createOpxContainer } from '../../src/container/modules.js';
import { TOKENS } from '../../src/container/tokens.js';
import { CORRELATION_TOKENS } from '../../src/correlation/module.js';
import { processCandidateInputs } from '../../src/runtime/in-process.js';
import { alertmanagerInputs } from '../../src/signals/alertmanager.js';
import { DEFAULT_SOURCES } from '../../src/signals/source-mapping.js';
import type { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';

describe('live correlation smoke', () => {
  it('turns a critical alert into one incident', async () => {
    const container = createOpxContainer();
    const recorder = container.get(CORRELATION_TOKENS.SignalRecorder);
    const payload = {
      version: '4',
      alerts: [
        { status: 'firing', labels: { alertname: 'TargetDown', job: 'checkout', severity: 'critical' }, annotations: { summary: 'checkout is down' }, startsAt: '2026-12-01T10:00:00Z', endsAt: '0001-01-01T00:00:00Z', fingerprint: 'abc' },
        { status: 'firing', labels: { alertname: 'Watchdog', severity: 'none' }, annotations: {}, startsAt: '2026-12-01T09:00:00Z', fingerprint: 'wd' },
        { status: 'firing', labels: { alertname: 'NoService' }, annotations: {}, startsAt: '2026-12-01T09:00:00Z', fingerprint: 'ns' },
      ],
    } as const;
    const report = await recorder.record(alertmanagerInputs(payload, DEFAULT_SOURCES.alertmanager), { channel: 'test' });
    expect(report.counts).to.deep.equal({ accepted: 1, duplicate: 0, ignored: 1, rejected: 1 });
    const again = await recorder.record(alertmanagerInputs(payload, DEFAULT_SOURCES.alertmanager), { channel: 'test' });
    expect(again.counts).to.deep.equal({ accepted: 0, duplicate: 1, ignored: 1, rejected: 1 });
    const once = await container.get(CORRELATION_TOKENS.Correlation).correlateOnce();
    expect(once.stats.candidatesOpened).to.equal(1);
    const store = container.get(TOKENS.EventStore);
    const processed = await processCandidateInputs(store, container.get(TOKENS.HandlerContext));
    expect(processed.handled).to.equal(1);
    const memory = store as InMemoryEventStore;
    const types = [...memory.streamIds()].flatMap((id) => memory.snapshot(id).map((e) => `${id.split('-')[0]}:${e.type}`));
    console.log(types);
    const again2 = await container.get(CORRELATION_TOKENS.Correlation).correlateOnce();
    expect(again2.stats.candidatesOpened).to.equal(0);
  });
});
