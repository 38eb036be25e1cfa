// A config canary's part of a Rollout's page (strategy: proxies,
// docs/rollouts.md): what it covers, the revision in force (everyone
// outside the cohort) against the cohort's, the cohort of the current step
// (members, ACKs awaited) and which revision each connected proxy is on.
// Reads the Rollout's status only (GET /api/v1/rollouts/NS/NAME).

import type { RolloutStatus } from '../api.js';
import { Badge, href, shortRev } from '../ui.js';

/** `DestinationRule, AuthorizationPolicy in bookinfo` (every kind a proxy's config is made of when none is named). */
export function coveredText(ro: RolloutStatus): string {
  const t = ro.target as { kinds?: string[]; namespaces?: string[] };
  const ns = t.namespaces?.length ? (t.namespaces.includes('*') ? 'every namespace' : t.namespaces.join(', ')) : ro.namespace;
  return `${t.kinds?.length ? t.kinds.join(', ') : 'every config kind'} in ${ns}`;
}

/** The rows of the page's summary card (a <dl>): revisions and cohort. */
export function ConfigCanaryRows({ ro }: { ro: RolloutStatus }) {
  const c = ro.cohort;
  return (
    <>
      <dt>Revisions</dt>
      <dd data-canary-revisions>
        {ro.revisions ? (
          <>
            in force <code data-in-force-revision title={ro.revisions.inForce}>{shortRev(ro.revisions.inForce)}</code>
            {ro.revisions.canary ? (
              <>
                {' · '}cohort <code data-canary-revision title={ro.revisions.canary}>{shortRev(ro.revisions.canary)}</code>
              </>
            ) : null}
          </>
        ) : ro.queuedBehind ? (
          <>
            queued behind <a href={href('rollouts', ...ro.queuedBehind.split('/'))}>{ro.queuedBehind}</a> (one config canary at a time)
          </>
        ) : (
          <span class="muted">every proxy on the revision Git states</span>
        )}
      </dd>
      <dt>Cohort</dt>
      <dd data-cohort>
        {c ? (
          <>
            {c.members.length} of {c.eligible} affected {c.eligible === 1 ? 'proxy' : 'proxies'}
            {' · '}
            {c.acked ? 'every member ACKed' : c.pending.length ? `${c.pending.length} ACK${c.pending.length === 1 ? '' : 's'} awaited` : 'waiting for ACKs'}
          </>
        ) : (
          <span class="muted">none (no walk)</span>
        )}
      </dd>
    </>
  );
}

/** Each connected proxy: its revision and whether it is in the cohort. */
export function ConfigCanaryProxies({ ro }: { ro: RolloutStatus }) {
  const members = new Set(ro.cohort?.members ?? []);
  const pending = new Set(ro.cohort?.pending ?? []);
  const rows = [...(ro.proxies ?? [])].sort((a, b) => (a.cohort === b.cohort ? (a.proxy < b.proxy ? -1 : 1) : a.cohort === 'canary' ? -1 : 1));
  return (
    <div class="table-wrap">
      <table data-canary-proxies>
        <thead>
          <tr>
            <th>Proxy</th>
            <th>Served</th>
            <th>Revision</th>
            <th class="hide-narrow">Cohort member</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((p) => (
            <tr key={p.proxy} data-proxy={p.proxy} data-cohort={p.cohort}>
              <td class="wrap">
                <code>{p.proxy}</code>
              </td>
              <td>
                <Badge tone={p.cohort === 'canary' ? 'info' : 'none'}>{p.cohort === 'canary' ? 'cohort' : 'in force'}</Badge>
              </td>
              <td>
                <code title={p.revision ?? ''}>{shortRev(p.revision)}</code>
              </td>
              <td class="hide-narrow">{members.has(p.proxy) ? (pending.has(p.proxy) ? 'yes · ACK awaited' : 'yes') : '–'}</td>
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td colSpan={4} class="muted">
                No proxy connected.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
