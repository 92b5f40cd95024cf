/**
 * Recorded data on the page: always text (Preact sets it as text nodes and attribute values,
 * never as HTML), and control characters made visible, so a label cannot move the cursor, ring a
 * bell or reverse the text around it: C0 and C1 controls become their Unicode control pictures
 * (ESC -> ␛), bidirectional overrides and isolates a visible code.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function printable(value: unknown, options: { readonly multiline?: boolean } = {}): string {
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : value === undefined || value === null ? '' : JSON.stringify(value);
  return text.replace(CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    if (options.multiline === true && c === '\n') return c;
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    if (code === 0x7f) return '\u2421';
    return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
  });
}

/** A recorded link the page may follow: http or https only (never javascript:, data: or a relative path into this console). */
export function safeHref(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** How long since an ISO time, as a person reads it: "3 min", "2 h 5 min", "4 d 3 h". */
export function since(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '?';
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (minutes < 1) return 'under a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** A time as the page shows it: the ISO form, UTC, to the second. */
export const at = (iso: string | undefined): string => (iso === undefined ? '' : printable(iso.replace(/\.\d{3}Z$/, 'Z')));

const ACTION_NAMES: Readonly<Record<string, string>> = {
  ACKNOWLEDGE_INCIDENT: 'Acknowledge',
  MITIGATE_INCIDENT: 'Mitigate',
  RESOLVE_INCIDENT: 'Resolve',
  CLOSE_INCIDENT: 'Close',
};
export const actionName = (action: string): string => ACTION_NAMES[action] ?? printable(action);
