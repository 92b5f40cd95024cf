import type { Authority, ChainView, Transition } from './api';
import { Link } from './router';
import { RecordedLink, Severity, T, Time } from './shared';
import { actionName } from './text';

const who = (a: Authority) => (
  <>
    <T v={a.authorityId} /> <span class="muted">(<T v={a.authorityType} />)</span>
  </>
);

function Lifecycle(props: { readonly transitions: readonly Transition[] }) {
  if (props.transitions.length === 0) return <p class="muted">No transition yet.</p>;
  return (
    <ol class="lifecycle">
      {props.transitions.map((t, i) => (
        <li key={i}>
          <Time iso={t.changedAt} /> {actionName(t.action)}: <T v={t.from} /> → <strong><T v={t.to} /></strong> by {who(t.authority)}
          {t.authority.justification === '' ? null : (
            <>
              {' '}
              — “<T v={t.authority.justification} />”
            </>
          )}
        </li>
      ))}
    </ol>
  );
}

/**
 * The recorded chain on one page: signals -> candidate -> decision(s) -> incident -> its
 * transitions, and the orchestration attempts. Every value is recorded data, rendered as text.
 */
export function Chain(props: { readonly view: ChainView }) {
  const { signals, candidate, decisions, incidents, attempts, manualRequests } = props.view;
  const context = candidate.context;
  return (
    <ol class="chain" aria-label="The recorded chain">
      <li class="link" aria-labelledby="chain-signals">
        <h2 id="chain-signals">Signals</h2>
        <p>
          {signals.count} signal{signals.count === 1 ? '' : 's'}
          {signals.firing === undefined ? null : `: ${signals.firing} firing, ${signals.resolved ?? 0} resolved${signals.allResolved === true ? ' (all resolved)' : ''}`}
        </p>
        {signals.automation === undefined ? null : (
          <ul class="automation" aria-label="The alert automation">
            {signals.automation.map((a) => (
              <li key={a.incidentId}>
                <code><T v={a.incidentId} /></code>: <T v={a.reason} />
              </li>
            ))}
          </ul>
        )}
        {signals.recorded === undefined ? (
          <ul class="ids">
            {signals.ids.map((id) => (
              <li key={id}>
                <code><T v={id} /></code>
              </li>
            ))}
          </ul>
        ) : (
          <table class="compact">
            <caption class="visually-hidden">Signals of this candidate</caption>
            <thead>
              <tr>
                <th scope="col">Signal</th>
                <th scope="col">Alert</th>
                <th scope="col">Severity</th>
                <th scope="col">Observed</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {signals.recorded.map((s) => (
                <tr key={`${s.signalId}:${s.outcome}`} class={s.status === 'resolved' ? 'resolved' : ''}>
                  <td data-label="Signal"><code><T v={s.signalId} /></code></td>
                  <td data-label="Alert"><T v={s.alertname} /></td>
                  <td data-label="Severity"><Severity v={s.severity} /></td>
                  <td data-label="Observed"><Time iso={s.observedAt} /></td>
                  <td data-label="Status">
                    {s.status === 'resolved' ? <span class="badge ok">resolved</span> : <span class="badge">firing</span>} <span class="muted"><T v={s.outcome} /></span>
                    {s.late ? <span class="badge warn">late</span> : null}
                    {s.endsAt === undefined ? null : <> ended <Time iso={s.endsAt} /></>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </li>

      <li class="link" aria-labelledby="chain-candidate">
        <h2 id="chain-candidate">Candidate</h2>
        <dl class="facts">
          <dt>Title</dt>
          <dd><T v={candidate.title ?? '(none recorded)'} /></dd>
          <dt>Candidate</dt>
          <dd><Link href={`/candidates/${encodeURIComponent(candidate.candidateId)}`}><code><T v={candidate.candidateId} /></code></Link> — <T v={candidate.status} /></dd>
          <dt>Severity, service</dt>
          <dd><Severity v={candidate.severity} /> <T v={candidate.service} /></dd>
          <dt>Correlation rule</dt>
          <dd><T v={`${candidate.correlationRuleId}@${candidate.correlationRuleVersion}`} />, window <Time iso={candidate.windowStart} /> – <Time iso={candidate.windowEnd} /></dd>
          <dt>Policy it names</dt>
          <dd><T v={`${candidate.policyId}@${candidate.policyVersion}`} /></dd>
          {context?.summary === undefined ? null : (<><dt>Summary</dt><dd><T v={context.summary} /></dd></>)}
          {context?.description === undefined ? null : (<><dt>Description</dt><dd class="prewrap"><T v={context.description} multiline /></dd></>)}
          {context?.runbookUrl === undefined ? null : (<><dt>Runbook</dt><dd><RecordedLink href={context.runbookUrl}>runbook</RecordedLink></dd></>)}
          {context?.generatorUrl === undefined ? null : (<><dt>Source</dt><dd><RecordedLink href={context.generatorUrl}>alert source</RecordedLink></dd></>)}
        </dl>
        {context === undefined || Object.keys(context.labels).length === 0 ? null : (
          <table class="compact labels">
            <caption>Labels</caption>
            <tbody>
              {Object.entries(context.labels).map(([k, v]) => (
                <tr key={k}>
                  <th scope="row"><T v={k} /></th>
                  <td><T v={v} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </li>

      <li class="link" aria-labelledby="chain-decisions">
        <h2 id="chain-decisions">Decision{decisions.length === 1 ? '' : 's'}</h2>
        {decisions.length === 0 ? <p class="muted">Not decided yet.</p> : null}
        {decisions.map((d) => (
          <dl class="facts decision" key={d.decisionId}>
            <dt>Decision</dt>
            <dd><strong class={`decision-${d.decision.toLowerCase()}`}><T v={d.decision} /></strong> at <Time iso={d.decidedAt} /></dd>
            <dt>Policy</dt>
            <dd><T v={d.policy} /> <span class={d.policyNow === 'unchanged' ? 'muted' : 'badge warn'}>(<T v={d.policyNow} />)</span></dd>
            <dt>Content hash</dt>
            <dd><code class="hash"><T v={d.policyHash} /></code></dd>
            <dt>Rule</dt>
            <dd><T v={d.matchedRule} /> — <T v={d.reason} /></dd>
            <dt>Authority</dt>
            <dd>{who(d.authority)}, matrix v<T v={d.authorityMatrixVersion} />{d.authority.justification === '' ? null : <> — “<T v={d.authority.justification} />”</>}</dd>
          </dl>
        ))}
        {manualRequests.length === 0 ? null : (
          <>
            <h3>Promotion requests</h3>
            <ul>
              {manualRequests.map((r) => (
                <li key={r.requestId}>
                  <Time iso={r.requestedAt} /> by {who(r.authority)} — “<T v={r.authority.justification} />”
                </li>
              ))}
            </ul>
          </>
        )}
      </li>

      <li class="link" aria-labelledby="chain-incident">
        <h2 id="chain-incident">Incident</h2>
        {incidents.length === 0 ? <p class="muted">No incident (not promoted, or its incident is not opened yet).</p> : null}
        {incidents.map((i) => (
          <div key={i.incidentId}>
            <p>
              <Link href={`/incidents/${encodeURIComponent(i.incidentId)}`}><code><T v={i.incidentId} /></code></Link> — <strong><T v={i.state} /></strong>, opened <Time iso={i.openedAt} /> by {who(i.authority)}, revision <T v={i.revision} />
            </p>
            <h3>Transitions</h3>
            <Lifecycle transitions={i.lifecycle} />
          </div>
        ))}
      </li>

      <li class="link" aria-labelledby="chain-attempts">
        <h2 id="chain-attempts">Orchestration attempts</h2>
        {attempts.length === 0 ? (
          <p class="muted">None recorded here (the attempt log is kept 90 days).</p>
        ) : (
          <table class="compact">
            <caption class="visually-hidden">Orchestration attempts</caption>
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Outcome</th>
                <th scope="col">Policy</th>
                <th scope="col">Authority</th>
                <th scope="col">Took</th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a) => (
                <tr key={a.attemptId}>
                  <td data-label="Started"><Time iso={a.startedAt} /></td>
                  <td data-label="Outcome"><T v={a.status} /> <T v={a.decision} />{a.error === undefined ? null : <> — <T v={a.error} /></>}</td>
                  <td data-label="Policy"><T v={`${a.policyId}@${a.policyVersion}`} /></td>
                  <td data-label="Authority"><T v={`${a.authorityType}:${a.authorityId}`} /></td>
                  <td data-label="Took">{a.durationMs} ms</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </li>
    </ol>
  );
}
