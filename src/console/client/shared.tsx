import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

import { api, ApiError, type AlertCounts } from './api';
import { printable, safeHref } from './text';

/** Recorded data as text, control characters made visible: the one way a recorded value reaches the page. */
export function T(props: { readonly v: unknown; readonly multiline?: boolean }) {
  return <>{printable(props.v, { multiline: props.multiline === true })}</>;
}

/** A recorded link: an anchor only for http(s), opened without telling the target where it came from; anything else as text. */
export function RecordedLink(props: { readonly href: string | undefined; readonly children: ComponentChildren }) {
  if (props.href === undefined) return null;
  const href = safeHref(props.href);
  if (href === undefined) return <span class="unsafe-link" title="not an http(s) link, shown as text"><T v={props.href} /></span>;
  return (
    <a href={href} target="_blank" rel="noopener noreferrer">
      {props.children}
    </a>
  );
}

export function Severity(props: { readonly v: string }) {
  const known = ['SEV1', 'SEV2', 'SEV3', 'SEV4'].includes(props.v);
  return <span class={`sev ${known ? props.v.toLowerCase() : ''}`}><T v={props.v} /></span>;
}

export function Alerts(props: { readonly alerts: AlertCounts | undefined }) {
  if (props.alerts === undefined) return null;
  return (
    <span class="alerts">
      {props.alerts.firing} firing{props.alerts.resolved > 0 ? `, ${props.alerts.resolved} resolved` : ''}
    </span>
  );
}

export function Time(props: { readonly iso: string | undefined }) {
  if (props.iso === undefined) return null;
  return <time dateTime={printable(props.iso)}>{printable(props.iso.replace(/\.\d{3}Z$/, 'Z'))}</time>;
}

/** A failure as a person reads it, announced to screen readers. */
export function Problem(props: { readonly error: unknown; readonly what?: string }) {
  const error = props.error;
  const message = error instanceof ApiError ? `${error.message} (${error.status})` : error instanceof Error ? error.message : String(error);
  return (
    <p class="problem" role="alert">
      {props.what === undefined ? '' : `${props.what}: `}
      <T v={message} />
    </p>
  );
}

export interface Resource<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  reload(): void;
}

/**
 * JSON from the API at `path`, fetched again whenever `version` changes (the live view); the
 * last answer stays on the page while the next is fetched, so nothing flickers or loses focus.
 */
export function useResource<T>(path: string | undefined, version: string): Resource<T> {
  const [state, setState] = useState<{ readonly path: string | undefined; readonly data: T | undefined; readonly error: unknown; readonly loading: boolean }>({ path, data: undefined, error: undefined, loading: true });
  const [nonce, setNonce] = useState(0);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  useEffect(() => {
    if (path === undefined) return undefined;
    let live = true;
    setState((s) => (s.path === path ? { ...s, loading: true } : { path, data: undefined, error: undefined, loading: true }));
    api.get<T>(path).then(
      (data) => live && setState({ path, data, error: undefined, loading: false }),
      (error: unknown) => live && setState((s) => ({ path, data: s.path === path ? s.data : undefined, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [path, version, nonce]);
  return { data: state.path === path ? state.data : undefined, error: state.path === path ? state.error : undefined, loading: state.loading, reload };
}

/** Messages for screen readers and everyone: what an act did. */
let announceTo: (message: string) => void = () => undefined;
export const announce = (message: string): void => announceTo(message);

export function Announcer() {
  const [message, setMessage] = useState('');
  useEffect(() => {
    let timer: number | undefined;
    announceTo = (text) => {
      setMessage(text);
      window.clearTimeout(timer);
      timer = window.setTimeout(() => setMessage(''), 10_000);
    };
    return () => {
      window.clearTimeout(timer);
      announceTo = () => undefined;
    };
  }, []);
  return (
    <p class="announcer" role="status" aria-live="polite">
      {message}
    </p>
  );
}

/** The current time, ticking each `everyMs` (how long things have waited, as the page shows it). */
export function useNow(everyMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** A value from the previous render. */
export function usePrevious<T>(value: T): T | undefined {
  const ref = useRef<T | undefined>(undefined);
  useEffect(() => {
    ref.current = value;
  }, [value]);
  return ref.current;
}
