// Proxies: `meshcd proxy-status` as a table (the same rows, from the same
// /debug/syncz document: kind, namespace, revision, SYNCED/STALE/NACKED per
// type with the NACK text) with search and filters; a proxy's page shows
// what `meshcd proxy-config` shows, from /debug/config_dump: listeners,
// routes, clusters, endpoints as tables and collapsible JSON/YAML, secrets
// by name only.

import { Fragment } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { CONFIG_KINDS, configRows, dumpEntries, secretSummary, statusRow, XDS_TYPES, type ConfigKind, type ProxyStatusRow } from '../../../cli/proxy-view.js';
import { fetchSyncz, getJson } from '../api.js';
import { useData } from '../live.js';
import { Badge, Collapsible, ErrorNote, href, shortRev, syncTone, Time, zoneLabel } from '../ui.js';

const onProxies = (e: string) => e === 'proxies' || e === 'source';
/** Rows drawn at once: a browser stays quick with this many; the search and filters find the rest. */
const MAX_ROWS = 500;

function nackText(r: ProxyStatusRow): string[] {
  return XDS_TYPES.filter(([t]) => r.types[t].state === 'NACKED').map(([t]) => `${t}: ${r.types[t].nack}`);
}

export function ProxyList({ query }: { query: URLSearchParams }) {
  // A mesh of thousands ACKs all the time: the table follows at most once a second.
  const d = useData((s) => fetchSyncz(s), [], onProxies, 1000);
  const [search, setSearch] = useState(query.get('q') ?? '');
  const [kind, setKind] = useState(query.get('kind') ?? '');
  const [state, setState] = useState(query.get('state') ?? '');
  // The filters are kept in the URL (#/proxies?q=…&state=NACKED), so a filtered view can be shared; no new history entry per keystroke.
  useEffect(() => {
    const q = new URLSearchParams({ ...(search ? { q: search } : {}), ...(kind ? { kind } : {}), ...(state ? { state } : {}) }).toString();
    history.replaceState(null, '', `#/proxies${q ? `?${q}` : ''}`);
  }, [search, kind, state]);
  const rows = useMemo(() => (d.data?.proxies ?? []).map((p) => statusRow(p, d.data?.revision)), [d.data]);
  const kinds = [...new Set(rows.map((r) => r.kind))].sort();
  const shown = rows.filter((r) => {
    if (kind && r.kind !== kind) return false;
    if (state === 'problem' && !XDS_TYPES.some(([t]) => r.types[t].state === 'NACKED' || r.types[t].state === 'STALE')) return false;
    if (state === 'NACKED' && !XDS_TYPES.some(([t]) => r.types[t].state === 'NACKED')) return false;
    if (!search) return true;
    const q = search.toLowerCase();
    return [r.proxy, r.namespace, r.kind, r.revision, r.clientVersion, ...nackText(r)].some((x) => x.toLowerCase().includes(q));
  });
  return (
    <>
      <h1>Proxies</h1>
      <ErrorNote error={d.error} />
      <div class="toolbar" role="search">
        <label class="field">
          Search
          <input type="search" value={search} placeholder="id, namespace, NACK text…" onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label class="field">
          Kind
          <select value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value)}>
            <option value="">all</option>
            {kinds.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          State
          <select value={state} onChange={(e) => setState((e.currentTarget as HTMLSelectElement).value)}>
            <option value="">all</option>
            <option value="problem">NACKED or STALE</option>
            <option value="NACKED">NACKED</option>
          </select>
        </label>
        <span class="muted" role="status" aria-live="polite">
          {d.loading ? 'loading…' : `${shown.length} of ${rows.length} proxies${d.data?.truncated ? ' (first pages only)' : ''}`}
        </span>
      </div>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Proxy</th>
              <th>Kind</th>
              <th>Namespace</th>
              <th class="hide-narrow">Revision</th>
              {XDS_TYPES.map(([t]) => (
                <th key={t}>{t}</th>
              ))}
              <th class="hide-narrow">Connected ({zoneLabel()})</th>
            </tr>
          </thead>
          <tbody>
            {shown.slice(0, MAX_ROWS).map((r) => {
              const nacks = nackText(r);
              return (
                <Fragment key={r.proxy}>
                  <tr data-proxy={r.proxy}>
                    <td class="wrap mono">
                      <a href={href('proxies', r.proxy)}>{r.proxy}</a>
                    </td>
                    <td>{r.kind}</td>
                    <td>{r.namespace}</td>
                    <td class="hide-narrow mono">{shortRev(r.revision)}</td>
                    {XDS_TYPES.map(([t]) => (
                      <td key={t} data-type={t} data-state={r.types[t].state}>
                        <Badge tone={syncTone(r.types[t].state)}>{r.types[t].state}</Badge>
                      </td>
                    ))}
                    <td class="hide-narrow nowrap">
                      <Time at={r.connectedAt} compact />
                    </td>
                  </tr>
                  {nacks.length > 0 && (
                    <tr class="nack" data-nack-for={r.proxy}>
                      <td colSpan={5 + XDS_TYPES.length} class="wrap">
                        <span class="error-text">NACKED</span> {nacks.join(' · ')}
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
            {shown.length > MAX_ROWS && (
              <tr>
                <td colSpan={5 + XDS_TYPES.length} class="muted" data-more>
                  The first {MAX_ROWS} of {shown.length} shown: search or filter to narrow them.
                </td>
              </tr>
            )}
            {d.data && shown.length === 0 && (
              <tr>
                <td colSpan={5 + XDS_TYPES.length} class="muted">
                  {rows.length ? 'No proxy matches.' : 'No proxy connected.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}

const KIND_TITLES: Record<ConfigKind, string> = { listener: 'Listeners', route: 'Routes', cluster: 'Clusters', endpoint: 'Endpoints', secret: 'Secrets' };

export function ProxyPage({ id }: { id: string }) {
  const dump = useData((s) => getJson<unknown>(`/debug/config_dump?proxy=${encodeURIComponent(id)}&limit=10000`, s), [id], onProxies);
  const sync = useData((s) => getJson<{ revision?: string; proxies: Record<string, unknown>[] }>(`/debug/syncz?proxy=${encodeURIComponent(id)}`, s), [id], onProxies);
  const entry = sync.data?.proxies[0];
  const row = entry ? statusRow(entry, sync.data?.revision) : undefined;
  return (
    <>
      <h1 style={{ overflowWrap: 'anywhere' }}>
        Proxy <span class="mono">{id}</span>
      </h1>
      <p>
        <a href="#/proxies">← all proxies</a>
      </p>
      <ErrorNote error={dump.error ?? sync.error} />
      {row && (
        <div class="card" style={{ marginBottom: '16px' }}>
          <dl class="kv">
            <dt>Kind</dt>
            <dd>
              {row.kind} · {row.mode} · {String(entry!.access ?? '')}
              {entry!.identity ? ` · ${String(entry!.identity)}` : ''}
            </dd>
            <dt>Namespace</dt>
            <dd>{row.namespace}</dd>
            <dt>Revision</dt>
            <dd class="mono">{shortRev(row.revision)}</dd>
            <dt>Client</dt>
            <dd>{row.clientVersion}</dd>
            <dt>Connected</dt>
            <dd>
              <Time at={row.connectedAt} />
            </dd>
            <dt>Sync</dt>
            <dd>
              {XDS_TYPES.map(([t]) => (
                <span key={t} style={{ marginRight: '6px' }}>
                  {t} <Badge tone={syncTone(row.types[t].state)}>{row.types[t].state}</Badge>
                </span>
              ))}
            </dd>
          </dl>
          {nackText(row).map((n) => (
            <div class="alert" key={n} style={{ marginTop: '10px' }}>
              NACKED {n}
            </div>
          ))}
        </div>
      )}
      {dump.data !== undefined &&
        (Object.keys(CONFIG_KINDS) as ConfigKind[]).map((kind) => {
          const entries = dumpEntries(dump.data, kind);
          const rows = configRows(kind, entries);
          return (
            <section key={kind} data-config={kind}>
              <h2>
                {KIND_TITLES[kind]} <span class="muted">({entries.length})</span>
              </h2>
              {entries.length === 0 ? (
                <p class="muted">none</p>
              ) : (
                <>
                  <div class="table-wrap">
                    <table>
                      <thead>
                        <tr>
                          {rows[0]!.map((h) => (
                            <th key={h}>{h}</th>
                          ))}
                        </tr>
                      </thead>
                      <tbody>
                        {rows.slice(1).map((r, i) => (
                          <tr key={i}>
                            {r.map((c, j) => (
                              <td key={j} class={j === 0 ? 'wrap mono' : ''}>
                                {c}
                              </td>
                            ))}
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                  {kind !== 'secret' && entries.map((e) => <Collapsible key={e.name} title={e.name} value={e.value} extra={<span class="muted">version {e.version.slice(0, 12) || '–'}</span>} />)}
                  {kind === 'secret' && <p class="muted">Secrets are shown by name and type only, as `meshcd proxy-config secret` does ({entries.map((e) => String(secretSummary(e).name)).join(', ')}).</p>}
                </>
              )}
            </section>
          );
        })}
    </>
  );
}
