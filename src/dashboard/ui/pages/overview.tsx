// Overview: every source (URL, ref, the revision served with its commit's
// subject and author, fetch times and errors, notices), the last rejected
// revision with each finding as `file:line CODE message` (linked to the
// repository's web UI when its URL allows), and counts of rollouts and
// proxies. Reads /api/v1/sources, /api/v1/sources/NAME/commits/C,
// /api/v1/rollouts and /debug/syncz.

import { commitOfRevision, fileLink } from '../../links.js';
import { statusRow, XDS_TYPES } from '../../../cli/proxy-view.js';
import { fetchSyncz, getJson, type CommitView, type Diagnostic, type RolloutStatus, type SourceStatus } from '../api.js';
import { useData } from '../live.js';
import { Badge, ErrorNote, shortRev, Time } from '../ui.js';

const onSource = (e: string) => e === 'source';

export function Overview() {
  const sources = useData((s) => getJson<{ sources: SourceStatus[] }>('/api/v1/sources', s), [], onSource);
  const rollouts = useData((s) => getJson<{ rollouts: RolloutStatus[] }>('/api/v1/rollouts', s), [], (e) => e === 'rollout' || e === 'source');
  const proxies = useData((s) => fetchSyncz(s, 5), [], (e) => e === 'proxies' || e === 'source');
  const list = sources.data?.sources ?? [];
  const inFlight = (rollouts.data?.rollouts ?? []).filter((r) => r.phase === 'Progressing' || r.phase === 'Paused');
  const rows = (proxies.data?.proxies ?? []).map((p) => statusRow(p, proxies.data?.revision));
  const nacked = rows.filter((r) => XDS_TYPES.some(([t]) => r.types[t].state === 'NACKED'));
  const failing = list.filter((s) => s.lastError);
  return (
    <>
      <h1>Overview</h1>
      <ErrorNote error={sources.error} />
      <div class="cards">
        <div class="card">
          <div class="stat-label">Sources</div>
          <div class="stat">{sources.loading ? '–' : list.length}</div>
          <div class="muted">{failing.length ? `${failing.length} failing to fetch` : 'all fetching'}</div>
        </div>
        <div class="card">
          <div class="stat-label">Rollouts in flight</div>
          <div class="stat">{rollouts.loading ? '–' : inFlight.length}</div>
          <div class="muted">
            <a href="#/rollouts">{rollouts.data ? `${rollouts.data.rollouts.length} Rollout${rollouts.data.rollouts.length === 1 ? '' : 's'}` : 'Rollouts'}</a>
          </div>
        </div>
        <div class="card">
          <div class="stat-label">Proxies connected</div>
          <div class="stat">{proxies.loading ? '–' : rows.length}</div>
          <div class="muted">
            <a href="#/proxies">{nacked.length ? `${nacked.length} NACKing` : 'none NACKing'}</a>
          </div>
        </div>
      </div>
      <div class="grid">
        {list.map((s) => (
          <SourceCard key={s.name} s={s} />
        ))}
      </div>
    </>
  );
}

function useCommit(source: SourceStatus, revision: string | undefined) {
  const commit = source.kind === 'git' ? commitOfRevision(revision) : undefined;
  return useData((sig) => (commit ? getJson<CommitView>(`/api/v1/sources/${encodeURIComponent(source.name)}/commits/${commit}`, sig) : Promise.resolve(undefined)), [source.name, commit], () => false);
}

function CommitLine({ c, revision, git }: { c: CommitView | undefined; revision: string | undefined; git: boolean }) {
  return (
    <>
      <code>{shortRev(revision)}</code>
      {c ? (
        <>
          {' '}
          <span class="subject">{c.subject}</span>
          <br />
          <span class="muted">
            {c.author.name} · <Time at={c.date} />
          </span>
        </>
      ) : (
        // The author line's room is kept while the commit loads, so the card does not grow under the reader.
        git && (
          <>
            <br />
            <span class="muted">&nbsp;</span>
          </>
        )
      )}
    </>
  );
}

function SourceCard({ s }: { s: SourceStatus }) {
  const served = useCommit(s, s.revision);
  const rejected = useCommit(s, s.lastRejected?.revision);
  const rejectedNow = s.lastRejected && s.fetchedRevision === s.lastRejected.revision && s.revision !== s.lastRejected.revision;
  const state = s.lastError ? <Badge tone="bad">fetch failing</Badge> : rejectedNow ? <Badge tone="warn">newest rejected</Badge> : s.revision ? <Badge tone="ok">serving</Badge> : <Badge tone="none">waiting</Badge>;
  return (
    <section class="card" data-source={s.name} aria-labelledby={`src-${s.name}`}>
      <h2 id={`src-${s.name}`}>
        {s.name} {state}
      </h2>
      <dl class="kv">
        <dt>{s.kind === 'git' ? 'Repository' : 'Folder'}</dt>
        <dd class="mono">{s.url}</dd>
        {s.kind === 'git' && (
          <>
            <dt>Ref</dt>
            <dd>
              <code>{s.ref}</code>
              {s.path ? (
                <>
                  {' '}
                  path <code>{s.path}</code>
                </>
              ) : null}
            </dd>
          </>
        )}
        <dt>Serving</dt>
        <dd class="served" data-revision={s.revision ?? ''}>
          {s.revision ? <CommitLine c={served.data} revision={s.revision} git={s.kind === 'git'} /> : s.restoredRevision ? <span class="muted">restoring {shortRev(s.restoredRevision)}</span> : <span class="muted">nothing accepted yet</span>}
        </dd>
        <dt>Accepted</dt>
        <dd>
          <Time at={s.acceptedAt} />
        </dd>
        <dt>Last fetch</dt>
        <dd>
          <Time at={s.lastFetchTime} />
          {s.lastFetchDurationMs !== undefined && <span class="muted"> ({s.lastFetchDurationMs} ms)</span>}
        </dd>
        <dt>Next fetch</dt>
        <dd>{s.nextFetchAt ? <Time at={s.nextFetchAt} /> : <span class="muted">{s.kind === 'dir' ? 'on change (watched)' : s.webhook ? 'on webhook' : '–'}</span>}</dd>
        {!s.lastRejected && (
          <>
            <dt>Last rejected</dt>
            <dd class="muted" data-no-rejected>
              none since meshcd started
            </dd>
          </>
        )}
      </dl>
      {s.lastError && (
        <div class="alert" role="alert" style={{ marginTop: '12px' }}>
          Fetch failed {s.lastError.consecutiveFailures}× (last <Time at={s.lastError.at} />): {s.lastError.message}
        </div>
      )}
      {s.notices.length > 0 && (
        <>
          <h3>Notices</h3>
          <ul>
            {s.notices.slice(-5).map((n, i) => (
              <li key={i}>
                <Time at={n.at} /> {n.message}
              </li>
            ))}
          </ul>
        </>
      )}
      {s.lastRejected && (
        <div class="rejected" data-revision={s.lastRejected.revision}>
          <h3>
            Last rejected <Badge tone="bad">{plural(s.lastRejected.diagnostics.filter((d) => d.severity === 'error').length, 'error')}</Badge>
          </h3>
          <p style={{ margin: '0 0 8px' }}>
            <CommitLine c={rejected.data} revision={s.lastRejected.revision} git={s.kind === 'git'} /> <span class="muted">· rejected <Time at={s.lastRejected.at} /></span>
          </p>
          {s.kind === 'git' && commitOfRevision(s.revision) && commitOfRevision(s.lastRejected.revision) && (
            <p style={{ margin: '0 0 8px' }}>
              <a data-diff-link href={`#/diff?${new URLSearchParams({ source: s.name, base: commitOfRevision(s.revision)!, head: commitOfRevision(s.lastRejected.revision)! })}`}>
                What it changes against the commit served (Diff)
              </a>
            </p>
          )}
          <Findings source={s} revision={s.lastRejected.revision} diagnostics={s.lastRejected.diagnostics} />
        </div>
      )}
    </section>
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

export function Findings({ source, revision, diagnostics }: { source: SourceStatus | undefined; revision: string | undefined; diagnostics: Diagnostic[] }) {
  const sorted = [...diagnostics].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  const commit = commitOfRevision(revision);
  return (
    <ul class="diag">
      {sorted.map((d, i) => {
        const where = d.origin ? `${d.origin.file}:${d.origin.line}` : '–';
        const link = d.origin && source?.kind === 'git' ? fileLink(source.url, source.path, commit, d.origin.file, d.origin.line) : undefined;
        return (
          <li key={i} data-severity={d.severity}>
            <span class="where">{link ? <a href={link} target="_blank" rel="noopener noreferrer">{where}</a> : where}</span>
            <span>
              <Badge tone={d.severity === 'error' ? 'bad' : d.severity === 'warning' ? 'warn' : 'info'}>{d.code}</Badge>
            </span>
            <span>
              {d.message}
              {d.resource && <span class="muted"> ({d.resource})</span>}
            </span>
          </li>
        );
      })}
    </ul>
  );
}

