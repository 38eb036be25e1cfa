// `meshcd rollout list|status|promote|abort|retry|pause|resume NAMESPACE/NAME`:
// a client of the admin API of a running `meshcd serve` (/api/v1/rollouts).
// Mutating commands send the admin token from --token-file or the file
// named by MESHCD_TOKEN_FILE (never from a flag value).
//
// Exit codes: 0 done; 1 the Rollout does not exist or refused the command in
// its phase (e.g. promote when Succeeded); 2 bad usage, unreadable token
// file, the server unreachable, or the token missing or refused.

import type { Command } from 'commander';
import { readTokenFile } from '../rollout/wire.js';
import type { RolloutStatus } from '../rollout/runner.js';
import { EXIT, UserError } from './exit.js';
import { checkOutput, printStructured } from './output.js';

interface RolloutFlags {
  server: string;
  tokenFile?: string;
  output: string;
}

const MUTATING = ['promote', 'abort', 'retry', 'pause', 'resume'] as const;
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
const TIMEOUT_MS = 15_000;

function serverUrl(v: string): URL {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UserError(`--server: "${v}" is not a URL (e.g. http://127.0.0.1:15014)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UserError(`--server: "${v}" must be an http(s) URL`);
  if (u.username || u.password) throw new UserError('--server: credentials do not belong in the URL; use --token-file');
  return u;
}

function rolloutRef(v: string | undefined): { namespace: string; name: string } {
  const m = v ? /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(v) : null;
  if (!m) throw new UserError(`expected NAMESPACE/NAME, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  return { namespace: m[1]!, name: m[3]! };
}

async function call(flags: RolloutFlags, method: 'GET' | 'POST', path: string, token?: string): Promise<{ status: number; body: unknown }> {
  const base = serverUrl(flags.server);
  const url = new URL(path, base);
  let res: Response;
  try {
    res = await fetch(url, { method, headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' });
  } catch (err) {
    const c = (err as { cause?: { code?: string; message?: string } }).cause;
    const cause = c?.code ?? c?.message ?? (err as Error).message;
    throw new UserError(`--server ${base.origin}: cannot reach the admin API (${cause}); is meshcd serve running there?`);
  }
  const text = await res.text();
  if (text.length > MAX_RESPONSE_BYTES) throw new UserError(`--server ${base.origin}: response larger than ${MAX_RESPONSE_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UserError(`--server ${base.origin}${url.pathname}: HTTP ${res.status}, not JSON (is this meshcd's admin port?)`);
  }
  return { status: res.status, body };
}

function errorOf(body: unknown): string {
  return typeof body === 'object' && body && 'error' in body ? String((body as { error: unknown }).error) : 'unexpected answer';
}

function statusLines(s: RolloutStatus): string[] {
  const lines = [
    `${s.namespace}/${s.name}: ${s.phase}, step ${s.stepIndex}/${s.steps.length}, ${s.strategy === 'proxies' ? 'new revision on' : 'canary weight'} ${s.canaryWeight}%${s.revision ? `, revision ${s.revision.slice(0, 12)}` : ''}`,
    s.strategy === 'proxies'
      ? `  target: config canary of ${(s.target.kinds ?? []).join(', ')} in ${(s.target.namespaces ?? []).join(', ')}`
      : `  target: VirtualService ${s.namespace}/${s.target.virtualService}${s.target.route ? ` route ${s.target.route}` : ''}`,
  ];
  if (s.revisions) lines.push(`  revisions: in force ${s.revisions.inForce}${s.revisions.canary ? `, cohort on ${s.revisions.canary}` : ''}`);
  if (s.queuedBehind) lines.push(`  queued behind config canary ${s.queuedBehind}`);
  if (s.cohort) lines.push(`  cohort: ${s.cohort.members.length} of ${s.cohort.eligible} affected proxies${s.cohort.acked ? ', all ACKed' : s.cohort.pending.length ? `, waiting for the ACK of ${s.cohort.pending.join(', ')}` : ''}`);
  for (const p of s.proxies ?? []) lines.push(`    ${p.proxy}  ${p.cohort === 'canary' ? 'new' : 'in force'}  ${p.revision ?? '-'}`);
  if (s.reason) lines.push(`  reason: ${s.reason}`);
  if (s.pause) lines.push(`  paused (${s.pause.reason})${s.pause.deadline ? ` until ${s.pause.deadline}` : s.pause.remainingMs !== undefined ? `, ${Math.round(s.pause.remainingMs / 1000)}s left` : ', until promoted'}`);
  if (s.drift) lines.push('  drift: Git states a routing that is not what runs');
  for (const o of s.overrides ?? []) lines.push(`  in force: http[${o.routeIndex}] ${o.destinations.map((d) => `${d.host}${d.subset ? `/${d.subset}` : ''}${d.port ? `:${d.port}` : ''} ${d.weight}%`).join(', ')}`);
  if (s.writeBack) lines.push(`  write-back: ${JSON.stringify(s.writeBack)}`);
  if (s.analysis) {
    lines.push(`  analysis: ${s.analysis.failures} failed, ${s.analysis.inconclusives} inconclusive, ${s.analysis.consecutiveErrors} errors in a row`);
    for (const [name, m] of Object.entries(s.analysis.metrics)) {
      lines.push(`    ${name}: ${m.verdict ?? 'not measured'}${m.recent.length ? ` (${m.recent.map((x) => (x.value === undefined ? x.verdict : String(x.value))).join(', ')})` : ''}`);
    }
  }
  for (const h of s.history.slice(-5)) lines.push(`  ${h.at}  ${h.phase}  ${h.message}`);
  return lines;
}

function print(format: 'text' | 'json' | 'yaml', value: unknown, text: () => string[]): void {
  if (format === 'text') process.stdout.write(text().join('\n') + '\n');
  else printStructured(format, value);
}

export function registerRollout(program: Command): void {
  const cmd = program
    .command('rollout')
    .description('show and drive progressive rollouts of a running meshcd serve (admin API)')
    .addHelpText('after', '\nExit codes: 0 done; 1 no such Rollout, or the command does not apply in its phase; 2 bad usage, unreadable token file, server unreachable, token missing or refused.');
  const common = (c: Command) =>
    c
      .option('--server <url>', 'admin API of meshcd serve', 'http://127.0.0.1:15014')
      .option('-o, --output <format>', 'text|json|yaml', 'text');

  common(cmd.command('list').description('every Rollout with its phase, step and canary weight')).action(async (flags: RolloutFlags) => {
    const format = checkOutput(flags.output, ['text', 'json', 'yaml'] as const);
    const r = await call(flags, 'GET', '/api/v1/rollouts');
    if (r.status !== 200) throw new UserError(`--server: ${errorOf(r.body)} (HTTP ${r.status})`);
    const list = (r.body as { rollouts: RolloutStatus[] }).rollouts;
    print(format, r.body, () => (list.length === 0 ? ['no Rollouts in the accepted config'] : list.map((s) => `${`${s.namespace}/${s.name}`.padEnd(32)} ${s.phase.padEnd(12)} step ${s.stepIndex}/${s.steps.length}  ${String(s.canaryWeight).padStart(3)}%`)));
  });

  common(cmd.command('status').argument('<namespace/name>').description('phase, step, canary weight, analysis, write-back and history of one Rollout')).action(async (ref: string, flags: RolloutFlags) => {
    const format = checkOutput(flags.output, ['text', 'json', 'yaml'] as const);
    const { namespace, name } = rolloutRef(ref);
    const r = await call(flags, 'GET', `/api/v1/rollouts/${namespace}/${name}`);
    if (r.status === 404) throw new UserError(errorOf(r.body), EXIT.FINDINGS);
    if (r.status !== 200) throw new UserError(`--server: ${errorOf(r.body)} (HTTP ${r.status})`);
    print(format, r.body, () => statusLines(r.body as RolloutStatus));
  });

  for (const command of MUTATING) {
    const help = { promote: 'skip the current step (a pause, an analysis, a gate) or, after the last, promote', abort: 'restore the routing in force before the rollout', retry: 'walk a failed or aborted change out again from step 0', pause: 'hold the rollout where it is (keeps the rest of a timed pause)', resume: 'continue a paused rollout' }[command];
    common(cmd.command(command).argument('<namespace/name>').description(help))
      .option('--token-file <file>', 'file holding the admin token (default: the file named by MESHCD_TOKEN_FILE)')
      .action(async (ref: string, flags: RolloutFlags) => {
        const format = checkOutput(flags.output, ['text', 'json', 'yaml'] as const);
        const { namespace, name } = rolloutRef(ref);
        const file = flags.tokenFile ?? process.env.MESHCD_TOKEN_FILE;
        const token = file ? await readTokenFile(file, flags.tokenFile ? '--token-file' : 'MESHCD_TOKEN_FILE').catch((err: Error) => Promise.reject(new UserError(err.message))) : undefined;
        const r = await call(flags, 'POST', `/api/v1/rollouts/${namespace}/${name}/${command}`, token);
        if (r.status === 401 || r.status === 403) throw new UserError(`${command} ${namespace}/${name}: ${errorOf(r.body)}${token ? '' : ' (give --token-file or set MESHCD_TOKEN_FILE)'}`);
        if (r.status === 404 || r.status === 409) throw new UserError(`${command} ${namespace}/${name}: ${errorOf(r.body)}`, EXIT.FINDINGS);
        if (r.status !== 200) throw new UserError(`--server: ${errorOf(r.body)} (HTTP ${r.status})`);
        print(format, r.body, () => [`${command}: done`, ...statusLines(r.body as RolloutStatus)]);
      });
  }
}
