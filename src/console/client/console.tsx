/**
 * The OPX operator console: a page over the operator API, signed in with a principal's token.
 * Preact renders every recorded value as text; nothing here sets HTML.
 */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

import { api, ApiError, bindSession, type Abilities, type SessionView } from './api';
import { Audit } from './audit';
import { Link, navigate, useLocation } from './router';
import { Announcer, Problem, T } from './shared';
import { CandidatePage, IncidentPage, Incidents, Queue } from './views';

/** How often the page asks whether anything changed (the read models' position: one small answer). */
const POLL_MS = 2_000;

function SignIn(props: { readonly onSignedIn: (session: SessionView) => void; readonly reason: string | undefined }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="sign-in">
      <h1>OPX console</h1>
      {props.reason === undefined ? null : <p class="notice" role="status">{props.reason}</p>}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          setError(undefined);
          api.post<SessionView>('/console/session', { token }).then(
            (session) => {
              setBusy(false);
              setToken('');
              props.onSignedIn(session);
            },
            (e: unknown) => {
              setBusy(false);
              setError(e);
            },
          );
        }}
      >
        <label for="token">Your principal's token</label>
        <input id="token" name="token" type="password" autoComplete="current-password" required value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        <p class="muted small">
          Made with <code>opx principals add NAME --role HUMAN_OPERATOR --file FILE</code>. Checked against its hash; the page keeps only a session (an HttpOnly cookie).
        </p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error === undefined ? null : <Problem error={error} what="Not signed in" />}
      </form>
    </main>
  );
}

/** The read models' position, polled while the page is visible; a change makes every view fetch again. */
function useLiveVersion(enabled: boolean): { readonly version: string; readonly live: boolean } {
  const [version, setVersion] = useState('');
  const [live, setLive] = useState(true);
  useEffect(() => {
    if (!enabled) return undefined;
    let stopped = false;
    let timer: number | undefined;
    const poll = (): void => {
      if (document.visibilityState === 'hidden') {
        timer = window.setTimeout(poll, POLL_MS);
        return;
      }
      api.get<{ position: string | null }>('/api/v1/console/version').then(
        (answer) => {
          if (stopped) return;
          setLive(true);
          setVersion(answer.position ?? '');
          timer = window.setTimeout(poll, POLL_MS);
        },
        () => {
          if (stopped) return;
          setLive(false);
          timer = window.setTimeout(poll, POLL_MS * 2);
        },
      );
    };
    poll();
    const wake = (): void => {
      if (document.visibilityState === 'visible') {
        window.clearTimeout(timer);
        poll();
      }
    };
    document.addEventListener('visibilitychange', wake);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      document.removeEventListener('visibilitychange', wake);
    };
  }, [enabled]);
  return { version, live };
}

function App() {
  const [session, setSession] = useState<SessionView | null | undefined>(undefined);
  const [reason, setReason] = useState<string>();
  const [may, setMay] = useState<Abilities>();
  const location = useLocation();
  const { version, live } = useLiveVersion(session !== null && session !== undefined);
  const first = useRef(true);

  const signedOut = (why: string | undefined): void => {
    bindSession(undefined, () => undefined);
    setSession(null);
    setMay(undefined);
    setReason(why);
  };
  const signedIn = (s: SessionView): void => {
    bindSession(s.csrfToken, () => signedOut('Your session ended: sign in again.'));
    setReason(undefined);
    setSession(s);
    if (window.location.pathname === '/sign-in') navigate(new URLSearchParams(window.location.search).get('next') ?? '/', { replace: true });
  };

  useEffect(() => {
    api.get<SessionView>('/console/session').then(signedIn, () => signedOut(undefined));
  }, []);
  useEffect(() => {
    if (session === null || session === undefined) return;
    api.get<Abilities>('/api/v1/console/me').then(setMay, () => undefined);
  }, [session]);
  // Moving to another view puts the keyboard focus on its heading (as a page load would).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [location.path, location.query.toString()]);

  if (session === undefined) return <main id="main"><p>Loading…</p></main>;
  if (session === null) return <SignIn onSignedIn={signedIn} reason={reason} />;

  const path = location.path;
  const section = path.startsWith('/incidents') ? 'incidents' : path.startsWith('/audit') ? 'audit' : 'queue';
  let view;
  if (path === '/' || path === '/sign-in') view = <Queue version={version} may={may} />;
  else if (path === '/incidents') view = <Incidents version={version} />;
  else if (path.startsWith('/incidents/')) view = <IncidentPage version={version} />;
  else if (path.startsWith('/candidates/')) view = <CandidatePage version={version} />;
  else if (path === '/audit') view = <Audit version={version} />;
  else view = <h1 tabIndex={-1}>Not found</h1>;

  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">OPX</span>
        <nav aria-label="Console">
          <Link href="/" aria-current={section === 'queue' ? 'page' : undefined}>Deferred queue</Link>
          <Link href="/incidents" aria-current={section === 'incidents' ? 'page' : undefined}>Incidents</Link>
          <Link href="/audit" aria-current={section === 'audit' ? 'page' : undefined}>Audit</Link>
        </nav>
        <span class={`live ${live ? 'on' : 'off'}`} title={live ? 'updates live' : 'cannot reach the server; retrying'}>
          {live ? 'live' : 'offline'}
        </span>
        <span class="who">
          <T v={session.principal} /> <span class="muted">(<T v={session.roles.join(', ')} />)</span>
        </span>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            api.delete('/console/session').then(
              () => signedOut('Signed out.'),
              (e: unknown) => signedOut(e instanceof ApiError ? e.message : 'Signed out.'),
            );
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {view}
      </main>
      <Announcer />
    </>
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
