// Small shared pieces: times in the viewer's zone, badges, collapsible
// JSON/YAML, unified diffs, the login dialog that keeps the admin token for
// this tab's session.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { stringify } from 'yaml';
import { checkToken, session } from './api.js';

const dateTime = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayAndTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateNoZone = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayKey = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'numeric', day: 'numeric' });

/** The viewer's zone as the page names it ("GMT+9", "PST"): said once in a column header when the rows say only the time. */
export const zoneLabel = (): string => dateTime.formatToParts(Date.now()).find((p) => p.type === 'timeZoneName')?.value ?? '';

export function formatTime(iso: string | number | undefined, short = false): string {
  if (iso === undefined) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return (short ? timeOnly : dateTime).format(d);
}

/** For table rows: the time alone today, with the day this year, with the year before; the zone is in the column header. */
export function formatCompact(iso: string | number, now = Date.now()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  if (dayKey.format(d) === dayKey.format(now)) return timeOnly.format(d);
  return (d.getFullYear() === new Date(now).getFullYear() ? dayAndTime : dateNoZone).format(d);
}

/** A time in the viewer's time zone; the machine-readable value in `datetime`, the full date with its zone and UTC in the tooltip. */
export function Time({ at, short, compact }: { at: string | number | undefined; short?: boolean; compact?: boolean }) {
  if (at === undefined) return <span class="muted">–</span>;
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return <span>{String(at)}</span>;
  return (
    <time dateTime={d.toISOString()} title={`${dateTime.format(d)} (${d.toISOString()})`}>
      {compact ? formatCompact(at) : formatTime(at, short)}
    </time>
  );
}

/** A link inside the app (hash route). */
export const href = (...parts: string[]): string => `#/${parts.map(encodeURIComponent).join('/')}`;

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'none';

export function Badge({ tone, children, label }: { tone: Tone; children: ComponentChildren; label?: string }) {
  return (
    <span class={`badge ${tone}`} {...(label ? { 'aria-label': label } : {})}>
      {children}
    </span>
  );
}

const PHASE_TONE: Record<string, Tone> = { Idle: 'none', Progressing: 'info', Paused: 'warn', Succeeded: 'ok', Failed: 'bad', Aborted: 'bad' };
export const phaseTone = (phase: string): Tone => PHASE_TONE[phase] ?? 'none';

const STATE_TONE: Record<string, Tone> = { SYNCED: 'ok', STALE: 'warn', NACKED: 'bad', 'NOT SENT': 'none', IGNORED: 'none' };
export const syncTone = (state: string): Tone => STATE_TONE[state] ?? 'none';

export const shortRev = (rev: string | undefined): string => {
  if (!rev) return '–';
  const m = /^(?:(.*)@)?(sha1|sha256):([0-9a-f]+)$/.exec(rev);
  if (!m) return rev;
  const id = m[3]!.slice(0, 12);
  // `<commit>@sha1:<commit>` (a diff side named by its id) says the id once.
  return m[1] && !m[3]!.startsWith(m[1]) ? `${m[1]}@${id}` : id;
};

export function ErrorNote({ error }: { error: string | undefined }) {
  if (!error) return null;
  return (
    <div class="alert" role="alert">
      {error}
    </div>
  );
}

/** One resource, collapsed by default, as JSON or YAML. */
export function Collapsible({ title, extra, value, open }: { title: string; extra?: ComponentChildren; value: unknown; open?: boolean }) {
  const [format, setFormat] = useState<'yaml' | 'json'>('yaml');
  const [isOpen, setOpen] = useState(!!open);
  return (
    <details class="res" open={isOpen} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>
        <span class="name">{title}</span>
        {extra}
      </summary>
      {isOpen && (
        <div>
          <div class="seg" role="group" aria-label="format">
            <button type="button" aria-pressed={format === 'yaml'} onClick={() => setFormat('yaml')}>
              YAML
            </button>
            <button type="button" aria-pressed={format === 'json'} onClick={() => setFormat('json')}>
              JSON
            </button>
          </div>
          <pre class="code" tabIndex={0}>
            {format === 'json' ? JSON.stringify(value, null, 2) : stringify(value, { lineWidth: 0 })}
          </pre>
        </div>
      )}
    </details>
  );
}

export function UnifiedDiff({ text, label }: { text: string; label: string }) {
  const lines = text.replace(/\n$/, '').split('\n');
  return (
    <div class="diff-lines" role="region" aria-label={label} tabIndex={0}>
      {lines.map((l, i) => (
        <div key={i} class={l.startsWith('+++') || l.startsWith('---') ? 'hunk' : l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : l.startsWith('@@') ? 'hunk' : ''}>
          {l || ' '}
        </div>
      ))}
    </div>
  );
}

// --- the admin token ------------------------------------------------------------

type AuthListener = (token: string | null) => void;
const authListeners = new Set<AuthListener>();
let pendingLogin: ((ok: boolean) => void) | undefined;
let openLogin: (() => void) | undefined;

export function useToken(): string | null {
  const [t, set] = useState(session.token());
  useEffect(() => {
    authListeners.add(set);
    return () => void authListeners.delete(set);
  }, []);
  return t;
}

export function logout(): void {
  session.clear();
  for (const l of authListeners) l(null);
}

/** Resolves true once a token is kept (asks for one when none is). */
export function ensureLogin(): Promise<boolean> {
  if (session.token()) return Promise.resolve(true);
  return new Promise((resolve) => {
    pendingLogin?.(false);
    pendingLogin = resolve;
    openLogin?.();
  });
}

/** The login dialog: the token is checked against GET /api/v1/auth, then kept in sessionStorage (this tab only). */
export function LoginDialog() {
  const ref = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    openLogin = () => {
      setError('');
      ref.current?.showModal();
    };
    return () => void (openLogin = undefined);
  }, []);
  const finish = (ok: boolean) => {
    pendingLogin?.(ok);
    pendingLogin = undefined;
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem('token') as HTMLInputElement;
    const token = input.value.trim();
    if (!token) return setError('enter the admin token');
    setBusy(true);
    try {
      await checkToken(token);
      session.set(token);
      input.value = '';
      for (const l of authListeners) l(token);
      ref.current?.close();
      finish(true);
    } catch (err) {
      setError(err instanceof Error ? err.message.replace(/^login: /, '') : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} aria-labelledby="login-title" onClose={() => finish(!!session.token())}>
      <form onSubmit={submit}>
        <h2 id="login-title" style={{ margin: 0 }}>
          Admin token
        </h2>
        <p class="muted" style={{ margin: 0 }}>
          Promote, abort, retry, pause and resume need the token given to <code>meshcd serve --admin-token-file</code>. It is kept for this tab only
          (sessionStorage) and sent as a header, never in a URL.
        </p>
        <label class="field">
          Token
          <input name="token" type="password" autocomplete="off" required />
        </label>
        <div class="error-text" role="alert">
          {error}
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Log in
          </button>
          <button type="button" onClick={() => ref.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
