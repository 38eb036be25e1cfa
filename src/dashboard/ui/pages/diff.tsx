// Diff: pick two commits of a Git source (or paste a commit id or ref:
// `main~3`, a tag, a branch meshcd fetched) and see what `meshcd diff` says
// (GET /api/v1/sources/NAME/diff runs the CLI's own code): resources added,
// changed and removed with their YAML diffs, the head's validation with new
// findings marked, and the Envoy config that changes per proxy. A pasted
// ref is checked by the server as it is typed (GET …/commits/REF, the same
// resolution the diff uses). The CLI's text output is one click away. The
// choice is kept in the URL (#/diff?…).

import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { getJson, getText, type CommitView, type DiffReport, type SourceStatus } from '../api.js';
import { useData } from '../live.js';
import { Badge, ErrorNote, shortRev, UnifiedDiff } from '../ui.js';
import { commitOfRevision } from '../../links.js';

const CHANGE_TONE: Record<string, 'ok' | 'bad' | 'warn' | 'info'> = { added: 'ok', removed: 'bad', changed: 'warn' };

function commitLabel(c: CommitView, served: string | undefined): string {
  return `${c.commit.slice(0, 10)} ${c.subject.slice(0, 60)}${c.commit === served ? ' (serving)' : ''}`;
}

/** What the server makes of a typed ref: the commit it names, or why it names none. */
function useResolved(source: string | undefined, ref: string, listed: boolean): { commit?: CommitView; error?: string; checking: boolean } {
  const [state, setState] = useState<{ ref: string; commit?: CommitView; error?: string }>({ ref: '' });
  useEffect(() => {
    if (!source || !ref || listed) return;
    const ctl = new AbortController();
    // Debounced: one lookup once the typing stops.
    const timer = setTimeout(() => {
      getJson<CommitView>(`/api/v1/sources/${encodeURIComponent(source)}/commits/${encodeURIComponent(ref)}`, ctl.signal).then(
        (commit) => setState({ ref, commit }),
        (err: unknown) => !ctl.signal.aborted && setState({ ref, error: err instanceof ApiError ? err.message.replace(/^GET [^:]*: (commit: )?/, '') : String(err) }),
      );
    }, 300);
    return () => (clearTimeout(timer), ctl.abort());
  }, [source, ref, listed]);
  if (!ref || listed) return { checking: false };
  return state.ref === ref ? { ...state, checking: false } : { checking: true };
}

/** One side of the diff: pick a recent commit, or paste any commit id or ref (checked by the server). */
function RevisionField({ side, value, onChange, list, served, source }: { side: 'base' | 'head'; value: string; onChange: (v: string) => void; list: CommitView[]; served: string | undefined; source: string | undefined }) {
  const listed = list.some((c) => c.commit === value);
  const r = useResolved(source, value, listed);
  const label = side === 'base' ? 'Base' : 'Head';
  const status = `${side}-status`;
  return (
    <fieldset class="rev" aria-describedby={status}>
      <legend>{label}</legend>
      <select name={side} aria-label={`${label}: a recent commit`} value={listed ? value : ''} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
        {!listed && <option value="">{value ? `pasted: ${value.slice(0, 40)}` : 'choose a commit…'}</option>}
        {list.map((c) => (
          <option key={c.commit} value={c.commit}>
            {commitLabel(c, served)}
          </option>
        ))}
      </select>
      <input
        name={`${side}-ref`}
        class="mono"
        aria-label={`${label}: or paste a commit id or ref`}
        placeholder="or paste a commit id or ref"
        autocomplete="off"
        spellcheck={false}
        maxLength={200}
        value={listed ? '' : value}
        aria-invalid={r.error ? true : undefined}
        onInput={(e) => onChange((e.currentTarget as HTMLInputElement).value.trim())}
      />
      <span id={status} class={`rev-status ${r.error ? 'error-text' : 'muted'}`} role="status" data-resolved={r.commit?.commit ?? ''}>
        {r.error ?? (r.commit ? `${r.commit.commit.slice(0, 10)} ${r.commit.subject}` : r.checking ? 'checking…' : '')}
      </span>
    </fieldset>
  );
}

export function DiffPage({ query }: { query: URLSearchParams }) {
  const sources = useData((s) => getJson<{ sources: SourceStatus[] }>('/api/v1/sources', s), [], () => false);
  const git = (sources.data?.sources ?? []).filter((s) => s.kind === 'git');
  const sourceName = query.get('source') ?? git[0]?.name;
  const source = git.find((s) => s.name === sourceName);
  const commits = useData((s) => (sourceName ? getJson<{ commits: CommitView[] }>(`/api/v1/sources/${encodeURIComponent(sourceName)}/commits?limit=100`, s) : Promise.resolve({ commits: [] as CommitView[] })), [sourceName], (e) => e === 'source');
  const list = commits.data?.commits ?? [];
  const served = commitOfRevision(source?.revision);
  const [base, setBase] = useState(query.get('base') ?? '');
  const [head, setHead] = useState(query.get('head') ?? '');
  // Defaults once the commits are known: the newest commit against what is served (or its parent).
  useEffect(() => {
    if (!list.length) return;
    const h = head || list[0]!.commit;
    if (!head) setHead(h);
    if (!base) setBase(served && served !== h ? served : list.find((c) => c.commit === h)?.parents[0] ?? list[1]?.commit ?? h);
  }, [list.length, served]);
  const chosen = { base: query.get('base'), head: query.get('head') };
  const [asText, setAsText] = useState(false);
  const report = useData(
    async (s) => {
      if (!sourceName || !chosen.base || !chosen.head) return undefined;
      const path = `/api/v1/sources/${encodeURIComponent(sourceName)}/diff?base=${encodeURIComponent(chosen.base)}&head=${encodeURIComponent(chosen.head)}`;
      return asText ? { text: await getText(`${path}&output=text`, s) } : { json: await getJson<DiffReport>(path, s) };
    },
    [sourceName, chosen.base, chosen.head, asText],
    () => false,
  );
  const compare = (e: Event) => {
    e.preventDefault();
    location.hash = `#/diff?${new URLSearchParams({ ...(sourceName ? { source: sourceName } : {}), base, head })}`;
  };
  return (
    <>
      <h1>Diff</h1>
      <ErrorNote error={sources.error ?? commits.error} />
      {sources.data && git.length === 0 && <p class="muted">No Git source: diffs compare commits of a Git source.</p>}
      <form class="diff-form" onSubmit={compare} aria-label="choose two commits">
        {git.length > 1 && (
          <label class="field">
            Source
            <select value={sourceName} onChange={(e) => (location.hash = `#/diff?source=${encodeURIComponent((e.currentTarget as HTMLSelectElement).value)}`)}>
              {git.map((s) => (
                <option key={s.name}>{s.name}</option>
              ))}
            </select>
          </label>
        )}
        <RevisionField side="base" value={base} onChange={setBase} list={list} served={served} source={sourceName} />
        <RevisionField side="head" value={head} onChange={setHead} list={list} served={served} source={sourceName} />
        <div class="go">
          <button type="submit" class="primary" disabled={!base || !head}>
            Compare
          </button>
          <div class="seg" role="group" aria-label="output">
            <button type="button" aria-pressed={!asText} onClick={() => setAsText(false)}>
              Rendered
            </button>
            <button type="button" aria-pressed={asText} onClick={() => setAsText(true)}>
              CLI text
            </button>
          </div>
        </div>
      </form>
      <ErrorNote error={report.error} />
      {chosen.base && chosen.head && report.loading && <p class="muted">Computing the diff (loads, validates and translates both commits)…</p>}
      {report.data && 'text' in report.data && (
        <pre class="code" tabIndex={0} data-diff-text>
          {report.data.text}
        </pre>
      )}
      {report.data && 'json' in report.data && <Report r={report.data.json!} />}
    </>
  );
}

function Report({ r }: { r: DiffReport }) {
  const v = r.validation;
  return (
    <div data-diff-report>
      <p>
        <code>{shortRev(r.base.revision)}</code> → <code>{shortRev(r.head.revision)}</code>:{' '}
        <strong>
          {r.resources.length} resource change{r.resources.length === 1 ? '' : 's'}
        </strong>{' '}
        {Object.entries(r.counts)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ')}
      </p>
      <h2>
        Validation of the head <Badge tone={v.status === 'passed' ? 'ok' : v.status === 'warnings' ? 'warn' : 'bad'}>{v.status}</Badge>
      </h2>
      <p class="muted">
        {v.errors} errors, {v.warnings} warnings, {v.introduced} new in this change
      </p>
      {v.diagnostics.filter((d) => d.severity !== 'info').length > 0 && (
        <ul class="diag">
          {v.diagnostics
            .filter((d) => d.severity !== 'info')
            .map((d, i) => (
              <li key={i}>
                <span class="where">{d.origin ? `${d.origin.file}:${d.origin.line}` : '–'}</span>
                <span>
                  <Badge tone={d.severity === 'error' ? 'bad' : 'warn'}>{d.code}</Badge>
                </span>
                <span>
                  {d.message} {d.introduced && <Badge tone="info">new</Badge>}
                </span>
              </li>
            ))}
        </ul>
      )}
      <h2>Resources</h2>
      {r.resources.length === 0 && <p class="muted">No resource changes.</p>}
      {r.resources.map((x) => (
        <details class="res" key={x.key} open={r.resources.length <= 5} data-resource={x.key}>
          <summary>
            <Badge tone={CHANGE_TONE[x.change] ?? 'info'}>{x.change}</Badge>
            <span class="name">{x.key}</span>
            {(x.head ?? x.base) && <span class="muted mono">{`${(x.head ?? x.base)!.file}:${(x.head ?? x.base)!.line}`}</span>}
          </summary>
          <div>
            {x.note && <p class="note">{x.note}</p>}
            <UnifiedDiff text={x.yamlDiff} label={`diff of ${x.key}`} />
          </div>
        </details>
      ))}
      <h2>Envoy config per proxy</h2>
      {r.envoy.status === 'skipped' ? (
        <p class="muted">Skipped: {r.envoy.reason}</p>
      ) : (
        <div data-envoy>
          <p class="muted">
            {r.envoy.affected.length} of {r.envoy.proxies} representative proxies change
            {r.envoy.errors.length ? `; ${r.envoy.errors.length} translation errors` : ''}
          </p>
          {r.envoy.errors.map((e, i) => (
            <div class="alert" key={i}>
              {e}
            </div>
          ))}
          {r.envoy.affected.map((p) => (
            <details class="res" key={p.proxy.id} data-proxy={p.proxy.id}>
              <summary>
                <span class="name">{p.proxy.id}</span>
                <span class="muted">
                  {p.proxy.kind} · {p.proxy.namespace} · {p.changes.length} change{p.changes.length === 1 ? '' : 's'}
                </span>
              </summary>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Type</th>
                      <th>Name</th>
                      <th>Change</th>
                      <th>Fields</th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.changes.map((c, i) => (
                      <tr key={i}>
                        <td>{c.type}</td>
                        <td class="wrap mono">{c.name}</td>
                        <td>
                          <Badge tone={CHANGE_TONE[c.change] ?? 'info'}>{c.change}</Badge>
                        </td>
                        <td class="wrap mono">{(c.patch ?? []).slice(0, 6).map((o) => `${o.op} ${o.path}${o.value !== undefined ? ` = ${JSON.stringify(o.value).slice(0, 60)}` : ''}`).join('\n') || '–'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </details>
          ))}
        </div>
      )}
      <p class="muted">
        Base {r.base.label}, head {r.head.label}. Computed by the same code as <code>meshcd diff</code>.
      </p>
    </div>
  );
}
