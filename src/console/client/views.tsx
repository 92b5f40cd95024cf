import { useEffect, useRef, useState } from 'preact/hooks';

import { api, ApiError, type Abilities, type CandidateView, type ChainView, type DeferredRow, type IncidentRow, type IncidentView, type Page } from './api';
import { Chain } from './chain';
import { idAfter, Link, useLocation } from './router';
import { Alerts, announce, Problem, RecordedLink, Severity, T, Time, useNow, usePrevious, useResource } from './shared';
import { actionName, printable, since } from './text';

const PAGE = 25;
const STATES = ['OPEN', 'ACKNOWLEDGED', 'MITIGATED', 'RESOLVED', 'CLOSED'] as const;

const withBefore = (path: string, before: string | null) => (before === null ? path : `${path}&before=${encodeURIComponent(before)}`);

function Pager(props: { readonly base: string; readonly next: string | undefined; readonly before: string | null }) {
  const sep = props.base.includes('?') ? '&' : '?';
  return (
    <nav class="pager" aria-label="Pages">
      {props.before === null ? null : <Link href={props.base}>Newest</Link>}
      {props.next === undefined ? null : <Link href={`${props.base}${sep}before=${encodeURIComponent(props.next)}`}>Older</Link>}
    </nav>
  );
}

/** Promote with a justification (required): a ManualPromotionRequested the orchestrator then decides. */
export function PromoteForm(props: { readonly candidateId: string; readonly role: string | undefined; readonly onDone: () => void; readonly onCancel?: () => void }) {
  const [justification, setJustification] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const field = `justification-${props.candidateId}`;
  const input = useRef<HTMLTextAreaElement>(null);
  // Opened from the queue's button: the keyboard goes straight to the justification.
  useEffect(() => {
    if (props.onCancel !== undefined) input.current?.focus();
  }, []);
  return (
    <form
      class="act"
      onSubmit={(event) => {
        event.preventDefault();
        if (justification.trim() === '') {
          setError(new Error('a justification is required'));
          return;
        }
        setBusy(true);
        setError(undefined);
        api.post(`/api/v1/candidates/${encodeURIComponent(props.candidateId)}/promotion`, { justification, ...(props.role === undefined ? {} : { role: props.role }) }).then(
          () => {
            setBusy(false);
            announce(`Promotion of ${printable(props.candidateId)} requested: its incident opens when the orchestrator decides it.`);
            props.onDone();
          },
          (e: unknown) => {
            setBusy(false);
            setError(e);
          },
        );
      }}
      onKeyDown={(event) => {
        if (event.key === 'Escape' && props.onCancel !== undefined) props.onCancel();
      }}
    >
      <label for={field}>Justification (required, recorded with your name)</label>
      <textarea ref={input} id={field} aria-required="true" maxLength={2000} rows={2} value={justification} onInput={(e) => setJustification((e.target as HTMLTextAreaElement).value)} />
      <div class="buttons">
        <button type="submit" disabled={busy}>
          Promote to incident
        </button>
        {props.onCancel === undefined ? null : (
          <button type="button" class="secondary" onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </div>
      {error === undefined ? null : <Problem error={error} what="Not promoted" />}
    </form>
  );
}

export function Queue(props: { readonly version: string; readonly may: Abilities | undefined }) {
  const { query } = useLocation();
  const before = query.get('before');
  const { data, error } = useResource<Page<DeferredRow>>(withBefore(`/api/v1/console/deferred?limit=${PAGE}`, before), props.version);
  const [open, setOpen] = useState<string>();
  const now = useNow();
  const promoteRole = props.may?.promoteRole;
  return (
    <>
      <h1 tabIndex={-1}>Deferred queue</h1>
      <p class="lede">Candidates a policy left to a human, newest first. {data === undefined ? null : `${data.total} waiting.`}</p>
      {error === undefined ? null : <Problem error={error} />}
      {data !== undefined && data.rows.length === 0 ? <p class="empty">Nothing is waiting for a human.</p> : null}
      {data === undefined || data.rows.length === 0 ? null : (
        <table class="rows queue">
          <caption class="visually-hidden">Deferred candidates, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Severity</th>
              <th scope="col">Service</th>
              <th scope="col">Alert</th>
              <th scope="col">Runbook</th>
              <th scope="col">Deferred by</th>
              <th scope="col">Waiting</th>
              <th scope="col">Act</th>
            </tr>
          </thead>
          <tbody>
            {data.rows.map((row) => [
              <tr key={row.candidateId} data-candidate={row.candidateId}>
                <td data-label="Severity"><Severity v={row.severity} /></td>
                <td data-label="Service"><T v={row.service} /></td>
                <td data-label="Alert" class="title">
                  <Link href={`/candidates/${encodeURIComponent(row.candidateId)}`}><T v={row.title ?? row.candidateId} /></Link> <Alerts alerts={row.alerts} />
                </td>
                <td data-label="Runbook">{row.runbookUrl === undefined ? <span class="muted">none</span> : <RecordedLink href={row.runbookUrl}>runbook</RecordedLink>}</td>
                <td data-label="Deferred by"><T v={row.policy} /><br /><span class="muted"><T v={row.reason} /></span></td>
                <td data-label="Waiting"><time dateTime={printable(row.deferredAt)} title={printable(row.deferredAt)}>{since(row.deferredAt, now)}</time></td>
                <td data-label="Act">
                  {row.promotionRequested ? (
                    <span class="badge">promotion requested</span>
                  ) : props.may?.promote === true ? (
                    <button type="button" aria-expanded={open === row.candidateId} aria-label={`Promote ${printable(row.title ?? row.candidateId)}`} onClick={() => setOpen(open === row.candidateId ? undefined : row.candidateId)}>
                      Promote…
                    </button>
                  ) : (
                    <span class="muted">view only</span>
                  )}
                </td>
              </tr>,
              open === row.candidateId && !row.promotionRequested ? (
                <tr key={`${row.candidateId}:act`} class="form-row">
                  <td colSpan={7}>
                    <PromoteForm candidateId={row.candidateId} role={promoteRole} onDone={() => setOpen(undefined)} onCancel={() => setOpen(undefined)} />
                  </td>
                </tr>
              ) : null,
            ])}
          </tbody>
        </table>
      )}
      {data === undefined ? null : <Pager base="/" next={data.next} before={before} />}
    </>
  );
}

export function Incidents(props: { readonly version: string }) {
  const { query } = useLocation();
  const state = query.get('state');
  const before = query.get('before');
  const filter = state !== null && (STATES as readonly string[]).includes(state) ? state : undefined;
  const { data, error } = useResource<Page<IncidentRow>>(withBefore(`/api/v1/incidents?limit=${PAGE}${filter === undefined ? '' : `&state=${filter}`}`, before), props.version);
  const base = filter === undefined ? '/incidents' : `/incidents?state=${filter}`;
  return (
    <>
      <h1 tabIndex={-1}>Incidents{filter === undefined ? '' : `: ${filter}`}</h1>
      <nav class="tabs" aria-label="Incidents by state">
        <Link href="/incidents" aria-current={filter === undefined ? 'page' : undefined}>All</Link>
        {STATES.map((s) => (
          <Link key={s} href={`/incidents?state=${s}`} aria-current={filter === s ? 'page' : undefined}>
            {s}
          </Link>
        ))}
      </nav>
      {error === undefined ? null : <Problem error={error} />}
      {data === undefined ? null : <p class="lede">{data.total} incident{data.total === 1 ? '' : 's'}, newest first.</p>}
      {data === undefined || data.rows.length === 0 ? null : (
        <table class="rows incidents">
          <caption class="visually-hidden">Incidents, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Severity</th>
              <th scope="col">Service</th>
              <th scope="col">Incident</th>
              <th scope="col">State</th>
              <th scope="col">Opened</th>
              <th scope="col">Promoted by</th>
            </tr>
          </thead>
          <tbody>
            {data.rows.map((row) => (
              <tr key={row.incidentId} data-incident={row.incidentId}>
                <td data-label="Severity"><Severity v={row.severity} /></td>
                <td data-label="Service"><T v={row.service} /></td>
                <td data-label="Incident" class="title">
                  <Link href={`/incidents/${encodeURIComponent(row.incidentId)}`}><T v={row.title ?? row.incidentId} /></Link> <Alerts alerts={row.alerts} />
                </td>
                <td data-label="State"><span class={`state ${row.state.toLowerCase()}`}><T v={row.state} /></span></td>
                <td data-label="Opened"><Time iso={row.createdAt} /></td>
                <td data-label="Promoted by"><T v={row.promotedBy} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data === undefined ? null : <Pager base={base} next={data.next} before={before} />}
    </>
  );
}

/** An incident, the transitions this principal may make (each sent with the revision shown), and its chain. */
export function IncidentPage(props: { readonly version: string }) {
  const { path } = useLocation();
  const id = idAfter(path, '/incidents/');
  const view = useResource<IncidentView>(id === undefined ? undefined : `/api/v1/incidents/${encodeURIComponent(id)}`, props.version);
  const chain = useResource<ChainView>(id === undefined ? undefined : `/api/v1/explain/${encodeURIComponent(id)}`, props.version);
  const [justification, setJustification] = useState('');
  const [outcome, setOutcome] = useState<{ readonly kind: 'conflict' | 'error'; readonly error: unknown; readonly sent: string }>();
  const [busy, setBusy] = useState(false);
  const [acted, setActed] = useState<string>();
  const revision = view.data?.revision;
  const previous = usePrevious(revision);
  const [movedUnder, setMovedUnder] = useState<{ readonly from: string; readonly to: string }>();
  useEffect(() => {
    // The incident moved while this page showed it, and not by this page's act: said plainly.
    if (previous !== undefined && revision !== undefined && previous !== revision && acted !== revision) setMovedUnder({ from: previous, to: revision });
  }, [revision]);
  if (id === undefined) return <p>Not an incident address.</p>;
  const incident = view.data?.incident;
  const title = chain.data?.candidate.title;

  const act = (action: string) => {
    if (view.data === undefined) return;
    const sent = view.data.revision;
    setBusy(true);
    setOutcome(undefined);
    setMovedUnder(undefined);
    api.post<{ revision: string; incident: { state: string } }>(`/api/v1/incidents/${encodeURIComponent(id)}/transitions`, { action, justification, expectedRevision: sent }).then(
      (answer) => {
        setBusy(false);
        setJustification('');
        setActed(answer.revision);
        announce(`${actionName(action)}: the incident is now ${printable(answer.incident.state)} (revision ${printable(answer.revision)}).`);
        view.reload();
        chain.reload();
      },
      (error: unknown) => {
        setBusy(false);
        setOutcome({ kind: error instanceof ApiError && error.status === 409 ? 'conflict' : 'error', error, sent });
        view.reload();
        chain.reload();
      },
    );
  };

  return (
    <>
      <p class="crumbs"><Link href="/incidents">Incidents</Link></p>
      <h1 tabIndex={-1}>{title === undefined ? <T v={id} /> : <T v={title} />}</h1>
      {view.error === undefined ? null : <Problem error={view.error} />}
      {incident === undefined || view.data === undefined ? null : (
        <>
          <dl class="facts summary">
            <dt>State</dt>
            <dd><strong class={`state ${incident.state.toLowerCase()}`} data-state={incident.state}><T v={incident.state} /></strong></dd>
            <dt>Revision shown</dt>
            <dd data-revision={view.data.revision}><T v={view.data.revision} /></dd>
            <dt>Severity, service</dt>
            <dd><Severity v={incident.severity} /> <T v={incident.service} /></dd>
            <dt>Opened</dt>
            <dd><Time iso={incident.openedAt} /> by <T v={`${incident.authority.authorityType}:${incident.authority.authorityId}`} /></dd>
            <dt>Incident</dt>
            <dd><code><T v={incident.incidentId} /></code></dd>
          </dl>
          {movedUnder === undefined ? null : (
            <p class="notice" role="status">
              This incident changed while you were looking at it (revision <T v={movedUnder.from} /> → <T v={movedUnder.to} />): what you see now is its current state.
            </p>
          )}
          {outcome === undefined ? null : outcome.kind === 'conflict' ? (
            <div class="problem conflict" role="alert">
              <p>
                <strong>Not applied: someone else changed this incident first.</strong> You acted on revision <T v={outcome.sent} />; it is now{' '}
                <T v={(outcome.error as ApiError).body['state']} /> at revision <T v={(outcome.error as ApiError).body['revision']} />. Nothing was overwritten. Review its current state below and act again if it still applies.
              </p>
            </div>
          ) : (
            <Problem error={outcome.error} what="Not applied" />
          )}
          <section class="act" aria-labelledby="act-heading">
            <h2 id="act-heading">Act</h2>
            {view.data.actions.length === 0 ? (
              <p class="muted">Your roles offer no transition from <T v={incident.state} />.</p>
            ) : (
              <form onSubmit={(event) => event.preventDefault()}>
                <label for="transition-justification">Justification (optional, recorded with your name)</label>
                <textarea id="transition-justification" rows={2} maxLength={2000} value={justification} onInput={(e) => setJustification((e.target as HTMLTextAreaElement).value)} />
                <div class="buttons">
                  {view.data.actions.map((action) => (
                    <button key={action} type="button" disabled={busy} onClick={() => act(action)}>
                      {actionName(action)}
                    </button>
                  ))}
                </div>
                <p class="muted small">Sent with revision <T v={view.data.revision} />: if the incident changed since, nothing is applied.</p>
              </form>
            )}
          </section>
        </>
      )}
      {chain.error === undefined ? null : <Problem error={chain.error} what="Explain" />}
      {chain.data === undefined ? null : <Chain view={chain.data} />}
    </>
  );
}

/** A candidate: its chain (explain), and promotion when this principal may. */
export function CandidatePage(props: { readonly version: string }) {
  const { path } = useLocation();
  const id = idAfter(path, '/candidates/');
  const view = useResource<CandidateView>(id === undefined ? undefined : `/api/v1/candidates/${encodeURIComponent(id)}`, props.version);
  if (id === undefined) return <p>Not a candidate address.</p>;
  const data = view.data;
  return (
    <>
      <p class="crumbs"><Link href="/">Deferred queue</Link></p>
      <h1 tabIndex={-1}>{data?.candidate.title === undefined ? <T v={id} /> : <T v={data.candidate.title} />}</h1>
      {view.error === undefined ? null : <Problem error={view.error} />}
      {data === undefined ? null : (
        <>
          <p class="lede">
            Status <strong data-status={data.candidate.status}><T v={data.candidate.status} /></strong>
            {data.manualPromotion === 'allowed' ? null : <span class="muted"> — <T v={data.manualPromotion} /></span>}
          </p>
          {data.actions.includes('promote') ? (
            <section class="act" aria-labelledby="promote-heading">
              <h2 id="promote-heading">Promote</h2>
              <PromoteForm candidateId={id} role={undefined} onDone={() => view.reload()} />
            </section>
          ) : null}
          <Chain view={data} />
        </>
      )}
    </>
  );
}
