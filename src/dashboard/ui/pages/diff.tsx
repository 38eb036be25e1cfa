// Diff: pick two commits of a Git source and see what `meshcd diff` says
// (GET /api/v1/sources/NAME/diff runs the CLI's own code): resources added,
// changed and removed with their YAML diffs, the head's validation with new
// findings marked, and the Envoy config that changes per proxy. The CLI's
// text output is one click away. The choice is kept in the URL (#/diff?…).

import { useEffect, useState } from 'preact/hooks';
import { getJson, getText, type CommitView, type DiffReport, type SourceStatus } from '../api.js';
import { useData } from '../live.js';
import { Badge, ErrorNote, shortRev, UnifiedDiff } from '../ui.js';
import { commitOfRevision } from '../../links.js';

const CHANGE_TONE: Record<string, 'ok' | 'bad' | 'warn' | 'info'> = { added: 'ok', removed: 'bad', changed: 'warn' };

function commitLabel(c: CommitView, served: string | undefined): string {
  return `${c.commit.slice(0, 10)} ${c.subject.slice(0, 60)}${c.commit === served ? ' (serving)' : ''}`;
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
      <form class="toolbar" onSubmit={compare} aria-label="choose two commits">
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
        <label class="field">
          Base
          <select name="base" value={base} onChange={(e) => setBase((e.currentTarget as HTMLSelectElement).value)}>
            {list.map((c) => (
              <option key={c.commit} value={c.commit}>
                {commitLabel(c, served)}
              </option>
            ))}
            {base && !list.some((c) => c.commit === base) && <option value={base}>{base.slice(0, 10)}</option>}
          </select>
        </label>
        <label class="field">
          Head
          <select name="head" value={head} onChange={(e) => setHead((e.currentTarget as HTMLSelectElement).value)}>
            {list.map((c) => (
              <option key={c.commit} value={c.commit}>
                {commitLabel(c, served)}
              </option>
            ))}
            {head && !list.some((c) => c.commit === head) && <option value={head}>{head.slice(0, 10)}</option>}
          </select>
        </label>
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
