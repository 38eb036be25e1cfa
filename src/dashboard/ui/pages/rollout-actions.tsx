// A Rollout's commands (promote, pause, resume, retry, abort: the admin
// token, an abort confirmed first) and the note on what happens next; the
// steps' labels. Split from rollouts.tsx (the page) to keep each file one
// concern. Posts /api/v1/rollouts/NS/NAME/COMMAND.

import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, postWithToken, type RolloutStatus, type RolloutStep } from '../api.js';
import { ensureLogin, Time } from '../ui.js';

export function stepLabel(s: RolloutStep): string {
  if ('setWeight' in s) return `set weight ${s.setWeight}%`;
  if ('pause' in s) return s.pause.duration ? `pause ${s.pause.duration}` : 'pause until promoted';
  if ('setHeaderRoute' in s) return 'header route';
  if ('setMirror' in s) return `mirror ${s.setMirror.percent}%`;
  if ('setProxies' in s) return s.setProxies.percent !== undefined ? `new config to ${s.setProxies.percent}% of proxies` : `new config to ${s.setProxies.count ?? 0} ${s.setProxies.count === 1 ? 'proxy' : 'proxies'}`;
  return `analysis: ${s.analysis.metrics.join(', ')}`;
}

const walkingNow = (ro: RolloutStatus) => ro.phase === 'Progressing' || ro.phase === 'Paused';
const timedStepPause = (ro: RolloutStatus) => ro.phase === 'Paused' && ro.pause?.reason === 'step' && ro.pause.deadline !== undefined;

/** The commands and when each applies: the controller's own rules (src/rollout/controller.ts onCommand), so a button never leads to a 409. */
const COMMANDS: { cmd: string; label: string; applies: (ro: RolloutStatus) => boolean; help: string }[] = [
  { cmd: 'promote', label: 'Promote', applies: walkingNow, help: 'skip the current step (a pause, an analysis) or, after the last, promote' },
  { cmd: 'pause', label: 'Pause', applies: (ro) => ro.phase === 'Progressing' || timedStepPause(ro), help: 'hold the rollout where it is (a timed pause stops counting)' },
  { cmd: 'resume', label: 'Resume', applies: (ro) => ro.phase === 'Paused' && !timedStepPause(ro), help: 'continue a paused rollout' },
  { cmd: 'retry', label: 'Retry', applies: (ro) => (ro.phase === 'Failed' || ro.phase === 'Aborted') && ro.drift, help: 'walk the change Git states out again from step 1' },
  { cmd: 'abort', label: 'Abort', applies: walkingNow, help: 'restore the routing in force before the rollout' },
];

export function Actions({ ro, onDone }: { ro: RolloutStatus; onDone: () => void }) {
  const [busy, setBusy] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | undefined>();
  const [confirmAbort, setConfirmAbort] = useState(false);
  // A refusal ("not logged in", a 409) is about the phase it was made in: it goes when the phase changes.
  useEffect(() => setMsg((m) => (m && !m.ok ? undefined : m)), [ro.phase]);
  const run = async (cmd: string) => {
    if (cmd === 'abort' && !confirmAbort) {
      setConfirmAbort(true);
      setTimeout(() => setConfirmAbort(false), 6000);
      return;
    }
    setConfirmAbort(false);
    setMsg(undefined);
    if (!(await ensureLogin())) return setMsg({ ok: false, text: `${cmd}: not logged in` });
    setBusy(cmd);
    try {
      const s = await postWithToken<RolloutStatus>(`/api/v1/rollouts/${encodeURIComponent(ro.namespace)}/${encodeURIComponent(ro.name)}/${cmd}`);
      setMsg({ ok: true, text: `${cmd}: now ${s.phase}, ${s.stepIndex}/${s.steps.length} steps done, canary ${s.canaryWeight}%` });
      onDone();
    } catch (err) {
      const text = err instanceof ApiError && err.status === 401 ? `${cmd}: the admin token was refused; log in again` : err instanceof Error ? err.message : String(err);
      setMsg({ ok: false, text });
    } finally {
      setBusy('');
    }
  };
  return (
    <div>
      <div class="actions" role="group" aria-label="rollout commands">
        {COMMANDS.map((c) => (
          <button key={c.cmd} type="button" class={c.cmd === 'promote' ? 'primary' : c.cmd === 'abort' ? 'danger' : ''} disabled={!!busy || !c.applies(ro)} title={c.help} data-command={c.cmd} onClick={() => void run(c.cmd)}>
            {c.cmd === 'abort' && confirmAbort ? 'Confirm abort' : c.label}
          </button>
        ))}
      </div>
      <p class={msg && !msg.ok ? 'error-text' : 'muted'} role="status" aria-live="polite" style={{ minHeight: '20px', margin: '6px 0 0' }} data-command-result={msg ? (msg.ok ? 'ok' : 'error') : ''}>
        {msg?.text ?? ''}
      </p>
    </div>
  );
}

/** What happens next, and what a person may do about it. */
export function NextNote({ ro }: { ro: RolloutStatus }) {
  const next = ro.steps[ro.stepIndex + 1];
  const then = next ? ` Then step ${ro.stepIndex + 2}: ${stepLabel(next)}.` : ' It is the last step: then the rollout succeeds.';
  let text: ComponentChildren;
  if (ro.phase === 'Idle') text = `Waits for a commit that changes the routing of VirtualService ${ro.namespace}/${ro.target.virtualService}.`;
  else if (ro.phase === 'Succeeded') text = 'Done: the routing in force is what Git states.';
  else if (ro.phase === 'Failed' || ro.phase === 'Aborted')
    text = `${ro.phase === 'Failed' ? 'Rolled back' : 'Aborted'}: the routing from before the rollout is in force. ${ro.drift ? 'Git still states the change: Retry walks it out again from step 1.' : 'Git states it too; a new commit that changes the routing starts a new rollout.'}`;
  else if (ro.pause?.reason === 'manual') text = 'Held by a Pause command: Resume continues where it stopped.';
  else if (ro.pause?.deadline)
    text = (
      <>
        Continues by itself at <Time at={ro.pause.deadline} short />; Promote skips the wait.{then}
      </>
    );
  else if (ro.pause) text = `Waits for Promote.${then}`;
  else text = next || ro.steps[ro.stepIndex] ? `Now step ${ro.stepIndex + 1}: ${stepLabel(ro.steps[ro.stepIndex] ?? next!)}.` : '';
  return (
    <p class="muted" data-next style={{ margin: '8px 0 0' }}>
      {text}
    </p>
  );
}
