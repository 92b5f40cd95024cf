import { expect } from 'chai';
import { Registry } from 'prom-client';

import { WorkerMetrics } from '../../src/worker/metrics.js';

/** The value of the exposition line that starts with `series` (labels included), or undefined. */
const valueOf = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe(WorkerMetrics.name, () => {
  describe('when events are tallied between scrapes', () => {
    it('exposes what prom-client would have counted on the spot', async () => {
      const registry = new Registry();
      const metrics = new WorkerMetrics(registry);
      metrics.taken(1_000, 3_500);
      metrics.taken(1_000, 2_000);
      metrics.handled('CandidateCreated', 'handled', 0.002);
      metrics.handled('CandidateCreated', 'handled', 0.02);
      metrics.handled('CandidateCreated', 'failed', 3);
      metrics.decided('PROMOTE', 'AUTO_ENGINE', true);
      metrics.decided('DEFER', 'AUTO_ENGINE', false);
      metrics.settled();
      const text = await registry.metrics();
      expect(valueOf(text, 'opx_worker_events_total{type="CandidateCreated",outcome="handled"}')).to.equal(2);
      expect(valueOf(text, 'opx_worker_events_total{type="CandidateCreated",outcome="failed"}')).to.equal(1);
      expect(valueOf(text, 'opx_worker_decisions_total{decision="PROMOTE",authority="AUTO_ENGINE"}')).to.equal(1);
      expect(valueOf(text, 'opx_worker_decisions_total{decision="DEFER",authority="AUTO_ENGINE"}')).to.equal(1);
      expect(valueOf(text, 'opx_worker_incidents_created_total')).to.equal(1);
      expect(valueOf(text, 'opx_worker_in_flight')).to.equal(1);
      expect(valueOf(text, 'opx_worker_subscription_lag_seconds')).to.equal(1);
      expect(valueOf(text, 'opx_worker_handler_duration_seconds_bucket{le="0.001",type="CandidateCreated"}')).to.equal(0);
      expect(valueOf(text, 'opx_worker_handler_duration_seconds_bucket{le="0.0025",type="CandidateCreated"}')).to.equal(1);
      expect(valueOf(text, 'opx_worker_handler_duration_seconds_bucket{le="0.025",type="CandidateCreated"}')).to.equal(2);
      expect(valueOf(text, 'opx_worker_handler_duration_seconds_bucket{le="5",type="CandidateCreated"}')).to.equal(3);
      expect(valueOf(text, 'opx_worker_handler_duration_seconds_bucket{le="+Inf",type="CandidateCreated"}')).to.equal(3);
      expect(valueOf(text, 'opx_worker_handler_duration_seconds_count{type="CandidateCreated"}')).to.equal(3);
      expect(valueOf(text, 'opx_worker_handler_duration_seconds_sum{type="CandidateCreated"}')).to.be.closeTo(3.022, 1e-9);
      expect(text).to.include('# TYPE opx_worker_handler_duration_seconds histogram');

      // a second scrape counts nothing twice
      metrics.handled('CandidateCreated', 'handled', 0.002);
      const again = await registry.metrics();
      expect(valueOf(again, 'opx_worker_events_total{type="CandidateCreated",outcome="handled"}')).to.equal(3);
      expect(valueOf(again, 'opx_worker_incidents_created_total')).to.equal(1);
    });
  });

  describe('when two workers share one registry', () => {
    it('adds their counts up and sums what they hold in flight', async () => {
      const registry = new Registry();
      const first = new WorkerMetrics(registry);
      const second = new WorkerMetrics(registry);
      first.taken(0, 0);
      second.taken(0, 0);
      second.taken(0, 0);
      first.handled('CandidateCreated', 'ignored', 0.001);
      second.handled('CandidateCreated', 'ignored', 0.001);
      const text = await registry.metrics();
      expect(valueOf(text, 'opx_worker_events_total{type="CandidateCreated",outcome="ignored"}')).to.equal(2);
      expect(valueOf(text, 'opx_worker_handler_duration_seconds_count{type="CandidateCreated"}')).to.equal(2);
      expect(valueOf(text, 'opx_worker_in_flight')).to.equal(3);
    });
  });
});
