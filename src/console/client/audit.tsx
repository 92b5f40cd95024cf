import { useEffect, useState } from 'preact/hooks';

import { api, ApiError, type AuditDivergence, type AuditRun, type AuditSummary } from './api';
import { navigate, useLocation } from './router';
import { announce, Problem, T, Time, useResource } from './shared';

function Divergences(props: { readonly title: string; readonly items: readonly AuditDivergence[]; readonly count: number }) {
  if (props.count === 0) return null;
  return (
    <table class="compact divergences">
      <caption>
        {props.title}: {props.count} divergence{props.count === 1 ? '' : 's'}
        {props.items.length < props.count ? ` (the first ${props.items.length} shown)` : ''}
      </caption>
      <thead>
        <tr>
          <th scope="col">Stream, revision</th>
          <th scope="col">Kind</th>
          <th scope="col">Field</th>
          <th scope="col">Recorded</th>
          <th scope="col">Replayed</th>
        </tr>
      </thead>
      <tbody>
        {props.items.map((d, i) => (
          <tr key={i}>
            <td data-label="Stream, revision"><code><T v={`${d.streamId}@${d.revision}`} /></code></td>
            <td data-label="Kind"><T v={d.kind} /><br /><span class="muted"><T v={d.message} /></span></td>
            <td data-label="Field"><code><T v={d.path} /></code></td>
            <td data-label="Recorded"><code><T v={d.recorded} /></code></td>
            <td data-label="Replayed"><code><T v={d.replayed} /></code></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Report(props: { readonly report: AuditSummary }) {
  const r = props.report;
  return (
    <section aria-labelledby="verdict">
      <h2 id="verdict">
        Verdict: <span class={`verdict ${r.verdict.toLowerCase()}`} data-verdict={r.verdict}>{r.verdict}</span>
      </h2>
      <p>
        Run <code><T v={r.runId} /></code> by <T v={r.by} />, <Time iso={r.startedAt} /> – <Time iso={r.finishedAt} />: {r.eventsRead.toLocaleString('en')} events read, {r.eventsCompared.toLocaleString('en')} outputs compared byte for byte over {r.streamsChecked.toLocaleString('en')} streams; correlation {r.correlation.verdict} ({r.correlation.inputs.toLocaleString('en')} inputs, {r.correlation.eventsCompared.toLocaleString('en')} outputs compared).
      </p>
      {r.policyDrift.length === 0 ? (
        <p>No policy drift: every decision's policy content is the content in config.</p>
      ) : (
        <table class="compact drift">
          <caption>Policy drift: a policy in config is not the content decisions were made under</caption>
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col">Recorded hash</th>
              <th scope="col">Config now</th>
              <th scope="col">Decisions</th>
            </tr>
          </thead>
          <tbody>
            {r.policyDrift.map((d) => (
              <tr key={d.policy}>
                <td data-label="Policy"><T v={d.policy} /></td>
                <td data-label="Recorded hash"><code class="hash"><T v={d.recordedHash} /></code></td>
                <td data-label="Config now"><code class="hash"><T v={d.currentHash ?? 'missing from config'} /></code></td>
                <td data-label="Decisions">{d.decisions}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Divergences title="Orchestration" items={r.divergences} count={r.divergenceCount} />
      <Divergences title="Correlation" items={r.correlation.divergences} count={r.correlation.divergenceCount} />
    </section>
  );
}

/** The replay audit: the last verdict recorded, and a run on demand with its progress (the run's id in the URL). */
export function Audit(props: { readonly version: string }) {
  const { query } = useLocation();
  const runId = query.get('run');
  const last = useResource<{ last: AuditSummary | null; running: AuditRun | null }>('/api/v1/audit/last', props.version);
  const [run, setRun] = useState<AuditRun>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  // Follow the run in the URL until it ends.
  useEffect(() => {
    if (runId === null) return undefined;
    let live = true;
    let timer: number | undefined;
    const poll = (): void => {
      api.get<AuditRun>(`/api/v1/audit/runs/${encodeURIComponent(runId)}`).then(
        (answer) => {
          if (!live) return;
          setRun(answer);
          if (answer.state === 'running') timer = window.setTimeout(poll, 500);
          else {
            announce(answer.state === 'done' ? `Replay audit finished: ${answer.report?.verdict ?? ''}` : 'Replay audit failed');
            last.reload();
          }
        },
        (e: unknown) => live && setError(e),
      );
    };
    poll();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [runId]);

  const start = (): void => {
    setBusy(true);
    setError(undefined);
    api.post<AuditRun>('/api/v1/audit/runs', {}).then(
      (started) => {
        setBusy(false);
        announce('Replay audit started');
        navigate(`/audit?run=${encodeURIComponent(started.runId)}`, { replace: true });
      },
      (e: unknown) => {
        setBusy(false);
        const running = e instanceof ApiError && e.status === 409 ? (e.body['running'] as AuditRun | null) : null;
        if (running !== null) navigate(`/audit?run=${encodeURIComponent(running.runId)}`, { replace: true });
        else setError(e);
      },
    );
  };

  const current = run ?? last.data?.running ?? undefined;
  const running = current?.state === 'running';
  return (
    <>
      <h1 tabIndex={-1}>Replay audit</h1>
      <p class="lede">Replays every recorded input through the same handlers and compares every output byte for byte: IDENTICAL, or where it diverged and which policies drifted.</p>
      <div class="buttons">
        <button type="button" onClick={start} disabled={busy || running}>
          Run a replay audit
        </button>
      </div>
      {error === undefined ? null : <Problem error={error} />}
      {current === undefined ? null : (
        <section class="run" aria-labelledby="run-heading">
          <h2 id="run-heading">{running ? 'Running' : current.state === 'done' ? 'Finished' : 'Failed'}</h2>
          <p>
            Run <code><T v={current.runId} /></code> asked by <T v={current.by} /> at <Time iso={current.startedAt} />.
          </p>
          {running ? (
            <>
              <label for="audit-progress">Events read</label>{' '}
              <progress id="audit-progress" value={current.eventsRead} max={Math.max(current.expectedEvents ?? 0, current.eventsRead, 1)}>
                {current.eventsRead}
              </progress>{' '}
              <span data-events-read={current.eventsRead}>
                {current.eventsRead.toLocaleString('en')}
                {current.expectedEvents === undefined ? '' : ` of about ${current.expectedEvents.toLocaleString('en')}`}
              </span>
            </>
          ) : null}
          {current.state === 'failed' ? <Problem error={new Error(current.error ?? 'failed')} what="The audit did not finish" /> : null}
        </section>
      )}
      {last.error === undefined ? null : <Problem error={last.error} />}
      {last.data === undefined ? null : last.data.last === null ? <p class="empty">No replay audit recorded yet.</p> : (
        <>
          <h2 class="section">Last recorded</h2>
          <Report report={last.data.last} />
        </>
      )}
    </>
  );
}
