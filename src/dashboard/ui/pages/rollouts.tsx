// Rollouts: the list (phase, step, canary weight) and one Rollout's page:
// its steps as a progress bar, the routing in force, the canary weight over
// time, a chart per analysis metric with its threshold band and each
// measurement's verdict, the write-back after a rollback, the rollouts of
// its target, its history, the commits that changed its target, and the
// commands (rollout-actions.tsx); a config canary shows its cohort, the
// revision in force against the cohort's and each proxy's instead of the
// weights (config-canary.tsx). Reads /api/v1/rollouts[/NS/NAME],
// /api/v1/config and /api/v1/sources/NAME/history.

import { useEffect, useState } from 'preact/hooks';
import { getJson, type ConfigResource, type HistoryEntry, type Measurement, type RolloutStatus, type SourceStatus } from '../api.js';
import { Actions, NextNote, stepLabel } from './rollout-actions.js';
import { ConfigCanaryProxies, ConfigCanaryRows, coveredText } from './config-canary.js';
import { walksOf } from '../../walks.js';
import { TimeChart, type Series } from '../chart.js';
import { useData } from '../live.js';
import { Badge, ErrorNote, href, phaseTone, Time, UnifiedDiff, zoneLabel } from '../ui.js';

const onRollout = (e: string) => e === 'rollout' || e === 'source';

function WeightBar({ weight }: { weight: number }) {
  return (
    <div class="weightbar" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={weight} aria-label="canary weight">
      <span style={{ width: `${weight}%` }} />
    </div>
  );
}


export function RolloutList() {
  const r = useData((s) => getJson<{ rollouts: RolloutStatus[] }>('/api/v1/rollouts', s), [], onRollout);
  const list = r.data?.rollouts ?? [];
  return (
    <>
      <h1>Rollouts</h1>
      <ErrorNote error={r.error} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Rollout</th>
              <th class="hide-narrow">Target</th>
              <th>Phase</th>
              <th>Steps done</th>
              <th class="weight-col">Canary weight</th>
              <th class="hide-narrow">Last change ({zoneLabel()})</th>
            </tr>
          </thead>
          <tbody>
            {list.map((ro) => (
              <tr key={`${ro.namespace}/${ro.name}`} data-rollout={`${ro.namespace}/${ro.name}`}>
                <td>
                  <a href={href('rollouts', ro.namespace, ro.name)}>
                    {ro.namespace}/{ro.name}
                  </a>
                </td>
                <td class="hide-narrow">
                  {ro.strategy === 'proxies' ? (
                    `config: ${coveredText(ro)}`
                  ) : (
                    <>
                      VirtualService {ro.target.virtualService}
                      {ro.target.route ? ` · route ${ro.target.route}` : ''}
                    </>
                  )}
                </td>
                <td>
                  <Badge tone={phaseTone(ro.phase)}>{ro.phase}</Badge>
                </td>
                <td>
                  {ro.stepIndex}/{ro.steps.length}
                </td>
                <td>
                  {ro.strategy === 'proxies' ? (
                    <span data-cohort>{ro.cohort ? `cohort ${ro.cohort.members.length} of ${ro.cohort.eligible} proxies` : ro.queuedBehind ? `queued behind ${ro.queuedBehind}` : '–'}</span>
                  ) : (
                    <div style={{ display: 'flex', gap: '8px', alignItems: 'center' }}>
                      <WeightBar weight={ro.canaryWeight} />
                      <span class="weight">{ro.canaryWeight}%</span>
                    </div>
                  )}
                </td>
                <td class="hide-narrow">{ro.history.length ? <Time at={ro.history[ro.history.length - 1]!.at} compact /> : '–'}</td>
              </tr>
            ))}
            {r.data && list.length === 0 && (
              <tr>
                <td colSpan={6} class="muted">
                  No Rollout in the accepted config.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Steps({ ro }: { ro: RolloutStatus }) {
  const walking = ro.phase === 'Progressing' || ro.phase === 'Paused';
  return (
    <ol class="steps" aria-label="steps">
      {ro.steps.map((s, i) => {
        const state = ro.phase === 'Succeeded' || i < ro.stepIndex ? 'done' : i === ro.stepIndex && walking ? 'current' : i === ro.stepIndex && ro.phase === 'Failed' ? 'failed' : 'pending';
        return (
          <li key={i} data-state={state} aria-current={state === 'current' ? 'step' : undefined}>
            <span class="n">
              step {i + 1}
              {state === 'current' ? ' · now' : state === 'done' ? ' · done' : state === 'failed' ? ' · failed' : ''}
            </span>
            {stepLabel(s)}
          </li>
        );
      })}
    </ol>
  );
}

const PAUSE_REASON: Record<string, string> = { step: 'at a pause step', manual: 'by a pause command' };
const PHASE_NOTE: Record<string, string> = { Idle: 'idle: nothing to walk out', Progressing: 'walking the change out', Succeeded: 'the change is out', Failed: 'rolled back', Aborted: 'aborted' };

/** A measured value, rounded for reading (the chart's table keeps it exact). */
const num = (v: number | undefined) => (v === undefined ? '–' : Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4))));

const VERDICTS: { verdict: Measurement['verdict']; color: string }[] = [
  { verdict: 'success', color: '--ok' },
  { verdict: 'failure', color: '--bad' },
  { verdict: 'inconclusive', color: '--warn' },
  { verdict: 'error', color: '--muted' },
];

function MetricChart({ name, m, theme, since }: { name: string; m: NonNullable<RolloutStatus['analysis']>['metrics'][string]; theme: string; since: number }) {
  // This rollout's measurements (earlier walks of the target had their own).
  const all = (m.measurements ?? m.recent).filter((x) => x.at >= since);
  const series: Series[] = VERDICTS.map((v) => ({ label: v.verdict, color: v.color, points: all.filter((x) => x.verdict === v.verdict && x.value !== undefined && Number.isFinite(x.value)).map((x) => [x.at, x.value!] as [number, number]) }));
  const last = all[all.length - 1];
  return (
    <section class="card" data-metric={name}>
      <h3>
        {name} {m.verdict && <Badge tone={m.verdict === 'success' ? 'ok' : m.verdict === 'failure' ? 'bad' : 'warn'}>{m.verdict}</Badge>}
      </h3>
      <TimeChart title={`${name} measurements`} series={series} {...(m.thresholdRange ? { band: m.thresholdRange } : {})} theme={theme} height={200} empty="no measurement yet" />
      <p class="muted" style={{ margin: '6px 0 0', minHeight: '20px' }}>
        {last ? (
          <>
            last <Time at={last.at} short />: {num(last.value)} {last.stableValue !== undefined ? `(stable ${num(last.stableValue)})` : ''} — {last.verdict}
            {last.message ? `: ${last.message}` : ''}
          </>
        ) : (
          ''
        )}
      </p>
    </section>
  );
}

function WriteBack({ wb }: { wb: unknown }) {
  const w = wb as { status?: string; mode?: string; previousError?: string; drift?: boolean; result?: { kind: string; commit?: string; branch?: string; error?: string; reason?: string; notGit?: boolean } } | undefined;
  if (!w) return null;
  let text: string;
  if (w.status === 'done' && w.result?.kind === 'reverted') text = `revert commit ${w.result.commit?.slice(0, 12)} pushed to ${w.result.branch}`;
  else if (w.status === 'done' && w.result?.kind === 'branch') text = `rollback pushed as branch ${w.result.branch} (commit ${w.result.commit?.slice(0, 12)})${w.result.reason ? `: ${w.result.reason}` : ''}`;
  else if (w.status === 'done' && w.result?.kind === 'failed' && w.result.notGit) text = `not done (${w.result.error}); the source still states the rolled-back routing: change it there, or Retry`;
  else if (w.status === 'done' && w.result?.kind === 'failed') text = `write-back failed: ${w.result.error}`;
  else if (w.status === 'pending') text = `writing back (${w.mode})…${w.previousError ? ` previous attempt: ${w.previousError}` : ''}`;
  else text = 'writeBack: none — Git still states the rolled-back routing';
  return (
    <div class={`alert ${w.status === 'done' && w.result?.kind !== 'failed' ? 'warn' : ''}`} data-writeback>
      <strong>Write-back:</strong> {text}
    </div>
  );
}

function TargetCommits({ ro }: { ro: RolloutStatus }) {
  const d = useData(
    async (sig) => {
      const [config, sources] = await Promise.all([getJson<{ resources: ConfigResource[] }>('/api/v1/config?kind=VirtualService', sig), getJson<{ sources: SourceStatus[] }>('/api/v1/sources', sig)]);
      const vs = config.resources.find((r) => r.namespace === ro.namespace && r.name === ro.target.virtualService);
      const git = sources.sources.filter((s) => s.kind === 'git');
      const source = git.find((s) => s.name === vs?.origin.source) ?? (git.length === 1 ? git[0] : undefined);
      if (!source) return { source: undefined, entries: [] as HistoryEntry[] };
      const h = await getJson<{ entries: HistoryEntry[]; truncated: boolean }>(`/api/v1/sources/${encodeURIComponent(source.name)}/history?resource=${encodeURIComponent(`VirtualService/${ro.namespace}/${ro.target.virtualService}`)}&limit=10`, sig);
      return { source: source.name, entries: h.entries, truncated: h.truncated };
    },
    [ro.namespace, ro.target.virtualService],
    (e) => e === 'source',
  );
  return (
    <section>
      <h2>Commits that changed the target</h2>
      <ErrorNote error={d.error} />
      {d.data && !d.data.source && <p class="muted">The target does not come from a Git source: no commit history.</p>}
      {d.data?.entries.map((e) => (
        <details class="res" key={e.commit}>
          <summary>
            <code>{e.commit.slice(0, 12)}</code> <Badge tone="info">{e.change}</Badge> <span>{e.subject}</span>
            <span class="muted">
              {e.author.name} · <Time at={e.date} />
            </span>
          </summary>
          <div>
            <UnifiedDiff text={e.diff} label={`diff of ${e.commit.slice(0, 12)}`} />
            <p style={{ margin: '6px 0 0' }}>
              <a href={`#/diff?${new URLSearchParams({ source: d.data!.source!, base: `${e.commit}~1`, head: e.commit })}`}>The whole commit: every resource it changes and the Envoy config per proxy (Diff)</a>
            </p>
          </div>
        </details>
      ))}
      {d.data && 'truncated' in d.data && d.data.truncated && <p class="muted">Older commits are not in meshcd's clone (it fetched shallow).</p>}
    </section>
  );
}

/** The clock, ticking every `ms` while `on` (the weight line of a rollout in flight runs up to now). */
function useNow(on: boolean, ms = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!on) return;
    setNow(Date.now());
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [on, ms]);
  return now;
}

/** `reviews/v1 20%, reviews/v2 80%`: a route's destinations in force (short host: its first label). */
const routingText = (ds: RolloutStatus['overrides'][number]['destinations']) => ds.map((d) => `${d.host.split('.')[0]}${d.subset ? `/${d.subset}` : ''}${d.port ? `:${d.port}` : ''} ${d.weight}%`).join(', ');

export function RolloutPage({ namespace, name, theme }: { namespace: string; name: string; theme: string }) {
  const r = useData(async (s) => ({ ro: await getJson<RolloutStatus>(`/api/v1/rollouts/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`, s), at: Date.now() }), [namespace, name], (e, d) => e === 'source' || (e === 'rollout' && d.namespace === namespace && d.name === name));
  const ro = r.data?.ro;
  const walking = ro?.phase === 'Progressing' || ro?.phase === 'Paused';
  const now = useNow(walking);
  if (!ro) {
    return (
      <>
        <h1>
          Rollout {namespace}/{name}
        </h1>
        <ErrorNote error={r.error} />
      </>
    );
  }
  // The history spans every walk of this target: the charts show the latest, the table below lists them all.
  const walks = walksOf(ro.history);
  const current = walks[walks.length - 1];
  const since = current ? Date.parse(current.start) : 0;
  const weights: Series[] = [{ label: 'canary weight', color: '--canary', stepped: true, points: (current?.entries ?? []).map((h) => [Date.parse(h.at), h.canaryWeight] as [number, number]) }];
  const metrics = Object.entries(ro.analysis?.metrics ?? {});
  const config = ro.strategy === 'proxies';
  return (
    <>
      <h1>
        Rollout {ro.namespace}/{ro.name} <Badge tone={phaseTone(ro.phase)}>{ro.phase}</Badge>
      </h1>
      <ErrorNote error={r.error} />
      <div class="grid" style={{ marginBottom: '16px' }}>
        <div class="card">
          <dl class="kv">
            <dt>Target</dt>
            <dd>
              {config ? (
                `config canary: ${coveredText(ro)}`
              ) : (
                <>
                  VirtualService {ro.namespace}/{ro.target.virtualService}
                  {ro.target.route ? `, route ${ro.target.route}` : ''}
                </>
              )}
            </dd>
            {config && <ConfigCanaryRows ro={ro} />}
            {!config && (
              <>
                <dt>Canary weight</dt>
                <dd>
                  <span class="weight" data-weight={ro.canaryWeight}>
                    {ro.canaryWeight}%
                  </span>
                </dd>
                {/* Always there (two lines reserved), so the page does not jump when a walk starts. */}
                <dt>In force</dt>
                <dd data-in-force class="two-lines">
                  {(ro.overrides ?? []).length > 0 ? (
                    <>
                      {ro.overrides.map((o) => (
                        <div key={o.routeIndex}>
                          {ro.target.route && ro.overrides.length === 1 ? `route ${ro.target.route}` : `http[${o.routeIndex}]`}: {routingText(o.destinations)}
                          {o.headerRoute ? ` · header route: ${routingText(o.headerRoute.destinations)}` : ''}
                          {o.mirror ? ` · mirror ${o.mirror.percent}% to ${o.mirror.host.split('.')[0]}${o.mirror.subset ? `/${o.mirror.subset}` : ''}` : ''}
                        </div>
                      ))}
                      <span class="muted">{walking ? 'until the walk reaches what Git states' : 'Git states another routing'}</span>
                    </>
                  ) : (
                    <span class="muted">the routing Git states</span>
                  )}
                </dd>
              </>
            )}
            <dt>Step</dt>
            <dd>
              {ro.phase === 'Progressing' || ro.phase === 'Paused' ? `${ro.stepIndex + 1} of ${ro.steps.length} (${ro.stepIndex} done)` : `${ro.stepIndex} of ${ro.steps.length} done`}
            </dd>
            <dt>Commit</dt>
            <dd>{ro.revision ? <code title={ro.revision}>{ro.revision.slice(0, 12)}</code> : '–'}</dd>
            {/* One row whatever the phase (paused, rolled back, walking), so the page keeps its height as the rollout steps. */}
            <dt>{ro.pause ? 'Paused' : ro.reason ? 'Reason' : 'State'}</dt>
            <dd data-state-note>
              {ro.pause ? (
                <>
                  {PAUSE_REASON[ro.pause.reason] ?? ro.pause.reason}
                  {ro.pause.deadline ? (
                    <>
                      {' '}
                      until <Time at={ro.pause.deadline} />
                    </>
                  ) : ro.pause.remainingMs !== undefined ? (
                    `, ${Math.round(ro.pause.remainingMs / 1000)} s left`
                  ) : (
                    ', until promoted'
                  )}
                </>
              ) : ro.reason ? (
                ro.reason
              ) : (
                <span class="muted">{PHASE_NOTE[ro.phase] ?? ro.phase}</span>
              )}
            </dd>
          </dl>
        </div>
        <div class="card">
          <Actions ro={ro} onDone={r.reload} />
          <NextNote ro={ro} />
          {ro.drift && <p class="note">Git states a routing that is not what runs (after an abort, or writeBack: none).</p>}
        </div>
      </div>
      {ro.phase === 'Failed' && <WriteBack wb={ro.writeBack} />}
      <h2>Steps</h2>
      <Steps ro={ro} />
      {config ? (
        <>
          <h2>Proxies</h2>
          <ConfigCanaryProxies ro={ro} />
        </>
      ) : (
        <>
          <h2>
            Canary weight{' '}
            {current && (
              <span class="muted h-note">
                {walks.length > 1 ? `the latest of ${walks.length} rollouts, ` : ''}started <Time at={current.start} compact />
              </span>
            )}
          </h2>
          <div class="card">
            <TimeChart
              title="canary weight"
              series={weights}
              yRange={[0, 100]}
              unit="%"
              until={walking ? Math.max(now, r.data!.at) : undefined}
              theme={theme}
              empty={`Nothing walked out yet: the line starts when a commit changes the routing of VirtualService ${ro.namespace}/${ro.target.virtualService}.`}
            />
          </div>
        </>
      )}
      {metrics.length > 0 && (
        <>
          <h2>Analysis</h2>
          <p class="muted" style={{ marginTop: 0 }}>
            {ro.analysis!.failures} failed, {ro.analysis!.inconclusives} inconclusive, {ro.analysis!.consecutiveErrors} errors in a row
          </p>
          <div class="grid">
            {metrics.map(([n, m]) => (
              <MetricChart key={n} name={n} m={m} theme={theme} since={since} />
            ))}
          </div>
        </>
      )}
      {walks.length > 1 && (
        <>
          <h2>Rollouts of this target</h2>
          <div class="table-wrap">
            <table data-walks>
              <thead>
                <tr>
                  <th>Started ({zoneLabel()})</th>
                  <th class="hide-narrow">Last step</th>
                  <th>Outcome</th>
                  <th>Steps done</th>
                  <th>Highest weight</th>
                  <th class="hide-narrow">Last entry</th>
                </tr>
              </thead>
              <tbody>
                {[...walks].reverse().map((w) => (
                  <tr key={w.from}>
                    <td class="nowrap">
                      <Time at={w.start} compact />
                    </td>
                    <td class="nowrap hide-narrow">
                      <Time at={w.end} compact />
                    </td>
                    <td>
                      <Badge tone={w.outcome === 'Superseded' ? 'none' : phaseTone(w.outcome)}>{w.outcome}</Badge>
                    </td>
                    <td>{w.stepsDone}</td>
                    <td>{w.maxWeight}%</td>
                    <td class="wrap hide-narrow">{w.entries[w.entries.length - 1]!.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <h2>History</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Time ({zoneLabel()})</th>
              <th>Phase</th>
              <th>Steps done</th>
              <th>Weight</th>
              <th>What happened</th>
            </tr>
          </thead>
          <tbody>
            {[...ro.history].reverse().map((h, i) => (
              <tr key={i}>
                <td class="nowrap">
                  <Time at={h.at} compact />
                </td>
                <td>
                  <Badge tone={phaseTone(h.phase)}>{h.phase}</Badge>
                </td>
                <td>{h.stepIndex >= 0 ? h.stepIndex : '–'}</td>
                <td>{h.canaryWeight}%</td>
                <td class="wrap">{h.message}</td>
              </tr>
            ))}
            {ro.history.length === 0 && (
              <tr>
                <td colSpan={5} class="muted">
                  Nothing yet: this Rollout waits for a commit that changes its target.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {/* A config canary covers kinds, not one resource: its commits are the ones in its history. */}
      {!config && <TargetCommits ro={ro} />}
    </>
  );
}
