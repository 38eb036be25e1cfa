// A rollout followed in a real browser (Debian's Chromium, playwright-core)
// against a live `meshcd serve` with a Git source (git http-backend) and a
// real Prometheus scraping a backend that exports Istio's request metrics:
// a pushed change walks out through timed and manual pauses and the canary
// weight chart advances step by step without a reload; each analysis metric
// gets a chart with its threshold band and each measurement's verdict;
// promote asks for the admin token, refuses a wrong one and works with the
// right one (kept in sessionStorage, never in the URL or a cookie); a page
// on another origin cannot make the browser promote (CSRF); the mesh graph
// marks the route being walked out, each edge with the weight in force now
// beside Git's (the same overrides `meshcd rollout status` prints); the
// weight chart's time axis has round, non-overlapping ticks in the viewer's
// zone; little layout shift while the rollout streams in; abort asks to be
// confirmed and Retry is offered only when Git still states the change; when v2 starts failing, the analysis
// rolls it back and the page shows the failed step, the failed measurements
// and the revert commit pushed to the Git server.

import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { hmacSignature } from '../../src/source/webhook.js';
import { openBrowser, screenshot } from '../helpers/browser.js';
import { dashboardMesh } from '../helpers/dashboard-mesh.js';
import { makeRepo, tempDir } from '../helpers/git-repo.js';
import { startGitServer } from '../helpers/git-server.js';
import { startIstioMetricsBackend } from '../helpers/istio-metrics-backend.js';
import { startPrometheus } from '../helpers/prometheus.js';
import { eventually, startServe } from '../helpers/xds-e2e.js';

const TOKEN = 'dash-admin-token-7c41e9a2b0d3';
const GIT_TOKEN = 'dash-git-token-55aa01';
const HOOK_SECRET = 'dash-hook-rollout-1a2b3c';
const REVIEWS = 'reviews.bookinfo.svc.cluster.local';

const ROLLOUT = `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: reviews, namespace: bookinfo}
spec:
  target: {virtualService: reviews, route: split}
  steps:
  - setWeight: 20
  - pause: {duration: 3s}
  - setWeight: 50
  - pause: {}
  - setWeight: 80
  - pause: {}
  analysis:
    interval: 5s
    failureLimit: 1
    inconclusiveLimit: 30
    consecutiveErrorLimit: 10
    metrics:
    - name: success-rate
      template: request-success-rate
      thresholdRange: {min: 0.99}
    - name: latency
      template: request-duration-p99
      thresholdRange: {max: 500}
  writeBack: revert
`;

interface Status {
  phase: string;
  stepIndex: number;
  canaryWeight: number;
  overrides: { routeIndex: number; destinations: { host: string; subset?: string; weight: number }[] }[];
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(process.cwd(), 'dist/src/cli/bin.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The weight chart's x axis as drawn: each tick's instant, label and position (chart.tsx sets it). */
interface Tick {
  at: number;
  label: string;
  x: number;
}

test('a rollout in the browser: the weight chart follows the steps live, metric charts, promote with the admin token, no CSRF', async (t) => {
  const root = await tempDir('meshcd-dashboard-rollout-');
  t.teardown(() => rm(root, { recursive: true, force: true }));
  // Pushes (the write-back after a rollback) need a user: the server takes a token.
  const git = await startGitServer({ root, auth: { token: GIT_TOKEN } });
  t.teardown(() => git.close());
  const metrics = await startIstioMetricsBackend();
  t.teardown(() => metrics.close());
  let stopTraffic = metrics.steady([
    { host: REVIEWS, version: 'v2', count: 9, durationMs: 20 },
    { host: REVIEWS, version: 'v2', count: 1, durationMs: 240 },
    { host: REVIEWS, version: 'v1', count: 10, durationMs: 15 },
  ], 100);
  t.teardown(() => stopTraffic());
  const prom = await startPrometheus([metrics.target]);
  t.teardown(() => prom.stop());
  const repo = await makeRepo(root, 'platform');
  // Ports of backends nobody calls here: the proxies are not the subject of this test.
  const ports = { v1: 19091, v2: 19092 };
  // The config at the repository's root: write-back paths are the config files' (a source `path` is not applied to them yet).
  const files = (w: { v1: number; v2: number }) => Object.fromEntries(Object.entries(dashboardMesh(ports, w)).map(([p, text]) => [p.replace(/^mesh\//, ''), text]));
  await repo.commit({ ...files({ v1: 100, v2: 0 }), 'rollout.yaml': ROLLOUT }, 'reviews: a Rollout for the split route');
  await repo.push();
  await writeFile(join(root, 'hook'), HOOK_SECRET);
  await writeFile(join(root, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  await writeFile(join(root, 'git-token'), `${GIT_TOKEN}\n`, { mode: 0o600 });
  const serve = await startServe(`platform=${git.url('platform.git')}#main;token-file=${join(root, 'git-token')};webhook-secret-file=${join(root, 'hook')};poll=1h`, ['--no-ca', '--state-dir', join(root, 'state'), '--admin-token-file', join(root, 'token'), '--prometheus', prom.address]);
  t.teardown(() => serve.stop());
  const status = async (): Promise<Status> => (await (await fetch(`${serve.admin}/api/v1/rollouts/bookinfo/reviews`)).json()) as Status;
  await eventually(async () => {
    if ((await status()).phase !== 'Idle') throw new Error('no Rollout yet');
  }, 30_000);

  // Berlin: the chart's ticks and the tables' times are the viewer's, not the server's (UTC).
  const browser = await openBrowser({ timezoneId: 'Europe/Berlin' });
  t.teardown(() => browser.close());
  const { page } = browser;
  await page.goto(`${serve.admin}/#/rollouts/bookinfo/reviews`);
  await page.locator('h1 .badge:text("Idle")').waitFor({ timeout: 15_000 });
  // Before any walk: the chart and the history say why they are empty.
  t.regex(await page.locator('.chart .empty').first().innerText(), /Nothing walked out yet: the line starts when a commit changes the routing of VirtualService bookinfo\/reviews/);
  t.regex(await page.locator('[data-next]').innerText(), /Waits for a commit that changes the routing/);
  await page.evaluate(() => {
    (window as unknown as { marker: number }).marker = 7;
    (window as unknown as { shifts: number }).shifts = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean })[]) if (!e.hadRecentInput) (window as unknown as { shifts: number }).shifts += e.value;
    }).observe({ type: 'layout-shift', buffered: false });
  });
  const weights = () => page.locator('table[data-chart="canary weight"] td[data-value]').evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-value'))));

  // The pull request: all of split's traffic to v2. meshcd walks it out: 20%, 3 s, 50%, then waits.
  await repo.commit(files({ v1: 0, v2: 100 }), 'reviews: move the split to v2');
  await repo.push();
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  const hooked = await fetch(`${serve.admin}/hooks/platform`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': hmacSignature(HOOK_SECRET, Buffer.from(body)) } });
  t.is(hooked.status, 202);
  const seen: number[][] = [];
  await eventually(async () => {
    const w = await weights();
    if (JSON.stringify(seen.at(-1)) !== JSON.stringify(w)) seen.push(w);
    if (!w.includes(50)) throw new Error(`chart so far: ${w.join(',')}`);
  }, 30_000, 100);
  t.log(`the weight chart as the page saw it: ${seen.map((s) => `[${s.join(',')}]`).join(' → ')}`);
  const final = seen.at(-1)!;
  t.true(final.indexOf(20) >= 0 && final.indexOf(20) < final.lastIndexOf(50), `20 then 50 in ${final.join(',')}`);
  t.true(seen.some((s) => s.includes(20) && !s.includes(50)), 'the page showed 20% before 50%: it followed the steps as they passed');
  await page.locator('h1 .badge:text("Paused")').waitFor({ timeout: 10_000 });
  t.is(await page.locator('ol.steps li[aria-current="step"]').innerText(), 'step 4 · now\npause until promoted');
  t.is(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 7, 'no reload');
  t.regex(await page.locator('[data-in-force]').innerText(), /^route split: reviews\/v1 50%, reviews\/v2 50%/);
  t.regex(await page.locator('[data-next]').innerText(), /Waits for Promote\. Then step 5: set weight 80%\./);
  const shifted = await page.evaluate(() => (window as unknown as { shifts: number }).shifts);
  t.log(`cumulative layout shift while the rollout walked from 0% to 50%: ${shifted.toFixed(4)}`);
  t.true(shifted < 0.1, `layout shift ${shifted}`);

  // The time axis: round steps of at least a second, labels that do not overlap, each the tick's time in Berlin.
  const axis = JSON.parse((await page.locator('.chart[data-x-ticks]').first().getAttribute('data-x-ticks'))!) as Tick[];
  t.log(`weight chart ticks: ${axis.map((x) => x.label).join(' | ')}`);
  t.true(axis.length >= 2, JSON.stringify(axis));
  const step = axis[1]!.at - axis[0]!.at;
  t.true(step >= 1000 && step % 1000 === 0, `step ${step} ms`);
  t.true(axis.every((x, i) => i === 0 || x.at - axis[i - 1]!.at === step), 'evenly spaced');
  const berlin = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Berlin', hour: 'numeric', minute: '2-digit', second: '2-digit' });
  const berlinMinutes = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Berlin', hour: 'numeric', minute: '2-digit' });
  for (const x of axis) t.is(x.label, (step < 60_000 ? berlin : berlinMinutes).format(x.at));
  const widths = await page.evaluate((labels) => {
    const c = document.createElement('canvas').getContext('2d')!;
    c.font = '11px system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif';
    return labels.map((l) => c.measureText(l).width);
  }, axis.map((x) => x.label));
  axis.forEach((x, i) => {
    if (i > 0) t.true(x.x - axis[i - 1]!.x >= (widths[i]! + widths[i - 1]!) / 2 + 8, `labels ${axis[i - 1]!.label} and ${x.label} overlap`);
  });
  t.regex(await page.locator('[data-axis-note]').first().innerText(), /^[A-Z][a-z]{2} \d{1,2}, \d{4} · GMT\+[12]$/);

  // Analysis in the background: measurements from the real Prometheus, drawn against the threshold band.
  await eventually(async () => {
    const n = await page.locator('table[data-chart="success-rate measurements"] tbody tr').count();
    if (n < 2) throw new Error(`${n} success-rate measurements`);
  }, 60_000, 250);
  const rates = await page.locator('table[data-chart="success-rate measurements"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.textContent ?? ''));
  t.true(rates.every((r) => /success1$/.test(r)), rates.join(' | '));
  t.regex(await page.locator('[data-metric="success-rate"] .legend').innerText(), /allowed ≥ 0\.99/);
  t.regex(await page.locator('[data-metric="latency"] .legend').innerText(), /allowed ≤ 500/);
  // The commits that changed the target, from the source's clone (the same walk as `meshcd history`).
  await page.locator('details.res summary:has-text("reviews: move the split to v2")').waitFor({ timeout: 10_000 });
  t.regex(await page.locator('details.res summary').first().innerText(), /changed\s+reviews: move the split to v2/);
  const moved = page.locator('details.res:has(summary:has-text("reviews: move the split to v2"))');
  await moved.locator('summary').click();
  t.regex((await moved.locator('a[href^="#/diff"]').getAttribute('href'))!, /^#\/diff\?source=platform&base=[0-9a-f]{40}%7E1&head=[0-9a-f]{40}$/);
  await moved.locator('summary').click();
  await screenshot(page, 'rollout', { fullPage: true });

  // Promote needs the admin token: the login dialog opens; a wrong token is refused; the right one works.
  await page.click('button[data-command="promote"]');
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  await dialog.locator('input[name=token]').fill('not-the-admin-token-000');
  await dialog.locator('button[type=submit]').click();
  await dialog.locator('.error-text:text("wrong admin token")').waitFor();
  t.like(await status(), { phase: 'Paused', stepIndex: 3, canaryWeight: 50 });
  await dialog.locator('input[name=token]').fill(TOKEN);
  await dialog.locator('button[type=submit]').click();
  await page.locator('[data-command-result="ok"]').waitFor({ timeout: 15_000 });
  t.regex(await page.locator('[data-command-result]').innerText(), /promote: now Paused, 5\/6 steps done, canary 80%/);
  t.like(await status(), { phase: 'Paused', stepIndex: 5, canaryWeight: 80 });
  await eventually(async () => {
    if (!(await weights()).includes(80)) throw new Error('80% not drawn yet');
  }, 10_000);
  // Where the token is: this tab's sessionStorage only.
  t.is(await page.evaluate(() => sessionStorage.getItem('meshcd.adminToken')), TOKEN);
  t.false(page.url().includes(TOKEN));
  t.deepEqual(await browser.context.cookies(), []);

  // CSRF: a page on another origin cannot make this browser promote, with or without the token.
  const foreign: Server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
  await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => foreign.close(() => r())));
  const other = await browser.context.newPage();
  await other.goto(`http://127.0.0.1:${(foreign.address() as AddressInfo).port}/`);
  const attempt = await other.evaluate(async ({ url, token }) => {
    const out: string[] = [];
    try {
      const r = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      out.push(`with token: HTTP ${r.status}`);
    } catch (e) {
      out.push(`with token: ${(e as Error).name}`);
    }
    await fetch(url, { method: 'POST', mode: 'no-cors', body: 'x' }).then(
      (r) => out.push(`simple: ${r.type}`),
      (e: Error) => out.push(`simple: ${e.name}`),
    );
    return out;
  }, { url: `${serve.admin}/api/v1/rollouts/bookinfo/reviews/promote`, token: TOKEN });
  t.deepEqual(attempt, ['with token: TypeError', 'simple: opaque']);
  await other.close();
  t.like(await status(), { phase: 'Paused', stepIndex: 5, canaryWeight: 80 }, 'nothing was promoted from the other origin');

  // The list and the mesh graph show the rollout in flight.
  await page.click('nav >> text=Rollouts');
  const row = page.locator('tr[data-rollout="bookinfo/reviews"]');
  await row.waitFor();
  t.regex(await row.innerText(), /Paused\s+5\/6\s+80%/);
  await screenshot(page, 'rollouts');
  await page.click('nav >> text=Mesh');
  await page.locator('svg path.edge.rollout').first().waitFor({ timeout: 10_000 });
  // Each edge of the walked-out route: the weight in force now beside what Git states.
  const labels = await page.locator('svg text.elabel.rollout').evaluateAll((els) => els.map((e) => e.textContent ?? '').sort());
  t.deepEqual(labels, ['split: now 20% · Git 0%', 'split: now 80% · Git 100%']);
  // The same numbers the admin API (and so `meshcd rollout status`) reports.
  const overrides = (await status()).overrides;
  t.deepEqual(overrides.map((o) => o.destinations.map((d) => [d.subset, d.weight])), [[['v1', 20], ['v2', 80]]]);
  const cli = await runCli(['rollout', 'status', 'bookinfo/reviews', '--server', serve.admin]);
  t.is(cli.code, 0, cli.stderr);
  t.regex(cli.stdout, new RegExp(`in force: http\\[${overrides[0]!.routeIndex}\\] ${REVIEWS.replace(/\./g, '\\.')}/v1 20%, ${REVIEWS.replace(/\./g, '\\.')}/v2 80%`));
  t.is(await page.locator('tr[data-route="bookinfo/reviews/split"] td[data-in-force="20"]').count(), 1);
  t.is(await page.locator('tr[data-route="bookinfo/reviews/split"] td[data-in-force="80"]').count(), 1);
  await screenshot(page, 'mesh-rollout');

  // Logging out forgets the token: the next command asks again.
  await page.click('button:text("Log out")');
  t.is(await page.evaluate(() => sessionStorage.getItem('meshcd.adminToken')), null);
  await page.goto(`${serve.admin}/#/rollouts/bookinfo/reviews`);
  await page.click('button[data-command="promote"]');
  await page.locator('dialog[open]').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('[data-command-result="error"]:text("promote: not logged in")').waitFor();
  t.like(await status(), { stepIndex: 5 });

  // v2 starts failing: the analysis fails it, the rollout rolls back and writes a revert commit; the page shows all of it.
  stopTraffic();
  stopTraffic = metrics.steady([
    { host: REVIEWS, version: 'v2', count: 5, durationMs: 20 },
    { host: REVIEWS, version: 'v2', count: 5, code: 503, durationMs: 20 },
    { host: REVIEWS, version: 'v1', count: 10, durationMs: 15 },
  ], 100);
  await page.locator('h1 .badge:text("Failed")').waitFor({ timeout: 90_000 });
  const writeBack = page.locator('[data-writeback]');
  await writeBack.locator('text=/revert commit [0-9a-f]{12} pushed to main/').waitFor({ timeout: 30_000 });
  const revert = /revert commit ([0-9a-f]{12})/.exec(await writeBack.innerText())![1]!;
  t.is(await repo.git('--git-dir', repo.bare, 'rev-parse', '--short=12', 'main'), revert, 'the revert commit is on main in the Git server');
  t.regex(await repo.git('--git-dir', repo.bare, 'log', '-1', '--format=%s', 'main'), /^meshcd: roll back Rollout bookinfo\/reviews/);
  const failures = await page.locator('table[data-chart="success-rate measurements"] tbody tr').evaluateAll((trs) => trs.filter((tr) => /failure/.test(tr.textContent ?? '')).length);
  t.true(failures >= 2, `${failures} failed measurements drawn`);
  t.is(await page.locator('ol.steps li[data-state="failed"]').count(), 1);
  t.true((await weights()).at(-1) === 0, 'the weight chart ends back at 0%');
  // The refusal from before ("promote: not logged in", the dialog closed) went with the phase it was about.
  t.is(await page.locator('[data-command-result]').innerText(), '');
  await screenshot(page, 'rollout-failed', { fullPage: true });

  // The Retry button stays off: the revert is in Git, there is nothing to retry (the server would answer 409).
  t.true(await page.locator('button[data-command="retry"]').isDisabled());
  t.regex(await page.locator('[data-next]').innerText(), /Git states it too; a new commit that changes the routing starts a new rollout/);

  // The change again, on top of the revert (v2 healthy now): a second rollout of the same target. The page lists both;
  // the weight chart draws only the new one.
  stopTraffic();
  stopTraffic = metrics.steady([
    { host: REVIEWS, version: 'v2', count: 10, durationMs: 20 },
    { host: REVIEWS, version: 'v1', count: 10, durationMs: 15 },
  ], 100);
  await repo.git('pull', '-q', '--rebase', 'origin', 'main');
  await repo.commit(files({ v1: 0, v2: 100 }), 'reviews: move the split to v2, again');
  await repo.push();
  const again = await fetch(`${serve.admin}/hooks/platform`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': hmacSignature(HOOK_SECRET, Buffer.from(body)) } });
  t.is(again.status, 202);
  const walks = page.locator('table[data-walks] tbody tr');
  await walks.nth(1).waitFor({ timeout: 30_000 });
  t.regex(await walks.nth(1).innerText(), /Failed\s+5\s+80%/, 'the first rollout: failed after 5 steps, at most 80%');
  t.regex(await walks.nth(0).innerText(), /Progressing|Paused/);
  t.regex(await page.locator('h2:has-text("Canary weight")').innerText(), /the latest of 2 rollouts, started/);
  const redrawn = await weights();
  t.false(redrawn.includes(80), `the chart shows this rollout only: ${redrawn.join(',')}`);

  // Abort asks to be confirmed (and for the token: logged out above), then restores the routing from before;
  // Git still states the change, so Retry is offered and walks it out again: a third rollout.
  await page.click('button[data-command="abort"]');
  t.is(await page.locator('button[data-command="abort"]').innerText(), 'Confirm abort');
  t.true(['Progressing', 'Paused'].includes((await status()).phase), 'nothing happens on the first click');
  await page.click('button[data-command="abort"]');
  const login = page.locator('dialog[open]');
  await login.locator('input[name=token]').fill(TOKEN);
  await login.locator('button[type=submit]').click();
  await page.locator('h1 .badge:text("Aborted")').waitFor({ timeout: 15_000 });
  t.regex(await page.locator('[data-command-result="ok"]').innerText(), /^abort: now Aborted/);
  t.regex(await page.locator('[data-next]').innerText(), /Git still states the change: Retry walks it out again from step 1/);
  await page.click('button[data-command="retry"]');
  await page.locator('h1 .badge:text-matches("Progressing|Paused")').waitFor({ timeout: 15_000 });
  await walks.nth(2).waitFor({ timeout: 10_000 });
  const outcomes = await walks.evaluateAll((trs) => trs.map((tr) => tr.querySelector('.badge')?.textContent ?? ''));
  t.regex(outcomes[0]!, /^(Progressing|Paused)$/);
  t.deepEqual(outcomes.slice(1), ['Aborted', 'Failed']);
  for (const out of [serve.stdout(), serve.stderr()]) {
    t.false(out.includes(TOKEN), 'the admin token never appears in what serve prints');
    t.false(out.includes(GIT_TOKEN), 'nor the Git token');
  }
  // The only failed request: the wrong token at the login.
  t.deepEqual(browser.problems(), ['console: Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
});
