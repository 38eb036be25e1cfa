// The dashboard in a real browser (Debian's Chromium driven by
// playwright-core) against a live `meshcd serve` following a real Git
// server (git http-backend): the overview shows the served commit; a pushed
// invalid commit shows up as rejected with its file:line without a reload
// (the time from the server's rejection to the page is logged); the proxies
// table shows a real grpc-js-xds client SYNCED and another real grpc-js-xds
// client's NACK (one built without ring hash, refusing a RING_HASH cluster)
// with its text, live; a proxy's page lists its config with secrets by name;
// the mesh graph draws the routes; the diff page shows what `meshcd diff`
// prints for the same two commits, byte for byte, and takes a pasted commit
// id or ref (checked by the server, with a clear error for one it does not
// know); times are in the viewer's zone; empty states say what is missing;
// keyboard navigation with a visible focus, every page at a narrow window
// and the dark theme work; no console error or CSP violation; little layout
// shift while data streams in; when serve stops, the live indicator says so
// and the page recovers by itself when serve is back.

import test from 'ava';
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hmacSignature } from '../../src/source/webhook.js';
import { openBrowser, screenshot, type TestBrowser } from '../helpers/browser.js';
import { dashboardMesh } from '../helpers/dashboard-mesh.js';
import { makeRepo, tempDir, type TestRepo } from '../helpers/git-repo.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { callEcho, eventually, startBackend, startServe, xdsClient, type Backend, type ServeProcess } from '../helpers/xds-e2e.js';

const HOOK_SECRET = 'dash-hook-5e1f0c2a9b';
const NACKER_ID = 'sidecar~127.0.0.2~details-client.bookinfo~bookinfo.svc.cluster.local';
// details balances by a consistent hash: proxyless clients get a RING_HASH cluster, which a grpc-js-xds without ring hash refuses.
const DETAILS_RING_HASH = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details, namespace: bookinfo}
spec:
  host: details.bookinfo.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: x-user}
`;

/**
 * A real grpc-js-xds client in its own process, started as a client built
 * without ring-hash support (GRPC_XDS_EXPERIMENTAL_ENABLE_RING_HASH=false):
 * it asks for details and NACKs the RING_HASH cluster meshcd sends.
 */
function startRingHashlessClient(xds: string): { stop: () => void } {
  const script = `import * as grpc from '@grpc/grpc-js'; import * as xds from '@grpc/grpc-js-xds';
xds.register();
const ch = new grpc.Channel('xds:///details.bookinfo.svc.cluster.local:9080', grpc.credentials.createInsecure(), {});
setInterval(() => ch.getConnectivityState(true), 300);`;
  const bootstrap = { xds_servers: [{ server_uri: xds, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }], node: { id: NACKER_ID, locality: {}, metadata: { GENERATOR: 'grpc', NAMESPACE: 'bookinfo' } } };
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), stdio: 'ignore', env: { ...process.env, GRPC_XDS_EXPERIMENTAL_ENABLE_RING_HASH: 'false', GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) } });
  return { stop: () => void child.kill('SIGKILL') };
}
const CLIENT_ID = 'sidecar~127.0.0.1~productpage.bookinfo~bookinfo.svc.cluster.local';
const BIN = join(process.cwd(), 'dist/src/cli/bin.js');

interface Ctx {
  root: string;
  source: string;
  git: GitServer;
  repo: TestRepo;
  serve: ServeProcess;
  backends: Backend[];
  browser: TestBrowser;
  good: string;
  bad?: string;
  cleanup: (() => Promise<unknown>)[];
}

let ctx: Ctx;

async function hook(serve: ServeProcess): Promise<void> {
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  const r = await fetch(`${serve.admin}/hooks/platform`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': hmacSignature(HOOK_SECRET, Buffer.from(body)) } });
  if (r.status !== 202) throw new Error(`webhook answered ${r.status}`);
}

function runCli(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test.before(async () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  const root = await tempDir('meshcd-dashboard-');
  cleanup.push(() => rm(root, { recursive: true, force: true }));
  const git = await startGitServer({ root });
  cleanup.push(() => git.close());
  const backends = [await startBackend('v1'), await startBackend('v2')];
  cleanup.push(() => Promise.all(backends.map((b) => b.close())));
  const repo = await makeRepo(root, 'platform');
  const good = await repo.commit({ ...dashboardMesh({ v1: backends[0]!.port, v2: backends[1]!.port }, { v1: 90, v2: 10 }), 'mesh/details-lb.yaml': DETAILS_RING_HASH }, 'reviews: send 10% to v2');
  await repo.push();
  await writeFile(join(root, 'hook'), HOOK_SECRET);
  const source = `platform=${git.url('platform.git')}#main:mesh;webhook-secret-file=${join(root, 'hook')};poll=1h`;
  const serve = await startServe(source, ['--no-ca', '--state-dir', join(root, 'state')]);
  // ctx.serve: the last test restarts serve.
  cleanup.push(() => ctx.serve.stop());
  await eventually(async () => {
    if ((await fetch(`${serve.admin}/ready`)).status !== 200) throw new Error('not ready');
  }, 30_000);
  // Tokyo: the page must show times in the viewer's zone, not the server's (UTC here).
  const browser = await openBrowser({ timezoneId: 'Asia/Tokyo' });
  cleanup.push(() => browser.close());
  ctx = { root, source, git, repo, serve, backends, browser, good, cleanup };
});

test.after.always(async () => {
  for (const c of (ctx?.cleanup ?? []).reverse()) await c().catch(() => undefined);
});

test.serial('GET / serves the bundle with a strict Content-Security-Policy; assets are content-hashed and immutable', async (t) => {
  const res = await fetch(`${ctx.serve.admin}/`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'.*frame-ancestors 'none'/);
  t.is(res.headers.get('x-frame-options'), 'DENY');
  const html = await res.text();
  const js = /src="(\/assets\/app-[\w-]+\.js)"/.exec(html)?.[1];
  t.truthy(js, html);
  const asset = await fetch(`${ctx.serve.admin}${js}`);
  t.is(asset.status, 200);
  t.regex(asset.headers.get('content-type') ?? '', /javascript/);
  t.is(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.false(html.includes('http://') || html.includes('https://'), 'nothing fetched from elsewhere');
  t.is(ctx.serve.stdout().match(/dashboard: +(\S+)/)?.[1], `${ctx.serve.admin}/`);
});

test.serial('overview shows the served commit with its subject and author, times in the viewer\'s zone', async (t) => {
  const { page } = ctx.browser;
  await page.goto(`${ctx.serve.admin}/`);
  const served = page.locator('[data-source="platform"] .served');
  await served.locator('.subject').waitFor({ timeout: 20_000 });
  t.is(await served.getAttribute('data-revision'), `main@sha1:${ctx.good}`);
  const text = await served.innerText();
  t.true(text.includes(ctx.good.slice(0, 12)), text);
  t.true(text.includes('reviews: send 10% to v2'), text);
  t.true(text.includes('Test Author'), text);
  // The commit's author date (2026-01-01T00:00:01Z) in Tokyo (UTC+9).
  t.regex(text, /Jan 1, 2026, 09:00:0\d AM GMT\+9/);
  t.regex(await page.locator('.live').innerText(), /live/);
  // Nothing rejected yet: the card says so rather than leaving the reader to wonder.
  t.is(await page.locator('[data-source="platform"] [data-no-rejected]').innerText(), 'none since meshcd started');
  await screenshot(page, 'overview');
});

test.serial('empty states: no Rollout; an unknown Rollout says so', async (t) => {
  const { page } = ctx.browser;
  await page.goto(`${ctx.serve.admin}/#/rollouts`);
  await page.locator('td:text("No Rollout in the accepted config.")').waitFor({ timeout: 10_000 });
  await page.goto(`${ctx.serve.admin}/#/rollouts/bookinfo/nope`);
  t.regex(await page.locator('.alert[role=alert]').innerText({ timeout: 10_000 }), /GET \/api\/v1\/rollouts\/bookinfo\/nope: /);
  await page.goto(`${ctx.serve.admin}/#/`);
  await page.locator('[data-source="platform"] .served .subject').waitFor({ timeout: 10_000 });
});

test.serial('a pushed invalid commit appears as rejected with its file:line, without a reload', async (t) => {
  const { page } = ctx.browser;
  // A marker that a reload would lose, and a layout-shift observer for the rest of the session.
  await page.evaluate(() => {
    (window as unknown as { marker: number }).marker = 42;
    (window as unknown as { shifts: number }).shifts = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean })[]) if (!e.hadRecentInput) (window as unknown as { shifts: number }).shifts += e.value;
    }).observe({ type: 'layout-shift', buffered: false });
  });
  const bad = await ctx.repo.commit({ 'mesh/broken.yaml': 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: broken, namespace: bookinfo}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n      wieght: 100\n' }, 'add a broken route');
  ctx.bad = bad;
  await ctx.repo.push();
  const rejected = page.locator(`.rejected[data-revision="main@sha1:${bad}"]`);
  // When does the server know? Poll its API while the page waits for its event.
  const serverKnows = (async () => {
    for (;;) {
      const s = (await (await fetch(`${ctx.serve.admin}/api/v1/sources`)).json()) as { sources: { lastRejected?: { revision: string } }[] };
      if (s.sources[0]?.lastRejected?.revision === `main@sha1:${bad}`) return Date.now();
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const pushed = Date.now();
  await hook(ctx.serve);
  await rejected.locator('.diag li').first().waitFor({ timeout: 20_000 });
  const shown = Date.now();
  const known = await Promise.race([serverKnows, new Promise<number>((r) => setTimeout(() => r(shown), 2000))]);
  t.log(`webhook → page ${shown - pushed} ms; server's rejection → page ${Math.max(0, shown - known)} ms`);
  t.is(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'the page was not reloaded');
  const first = await rejected.locator('.diag li[data-severity="error"]').first().innerText();
  t.regex(first, /broken\.yaml:9\s+MCD0100\s+/);
  await rejected.locator('.subject:text("add a broken route")').waitFor({ timeout: 10_000 });
  // The source still serves the good commit.
  t.is(await page.locator('[data-source="platform"] .served').getAttribute('data-revision'), `main@sha1:${ctx.good}`);
  t.regex(await page.locator('[data-source="platform"] h2').innerText(), /newest rejected/);
  // One click from the rejected commit to what it changes against the one served.
  t.is(await rejected.locator('a[data-diff-link]').getAttribute('href'), `#/diff?source=platform&base=${ctx.good}&head=${bad}`);
  await screenshot(page, 'overview-rejected', { fullPage: true });
});

test.serial('the proxies table shows a SYNCED grpc-js-xds client and another grpc-js-xds client\'s NACK with its text, live', async (t) => {
  const { page } = ctx.browser;
  await page.click('nav >> text=Proxies');
  await page.locator('text=No proxy connected.').waitFor({ timeout: 10_000 });
  // A real proxyless gRPC client: it connects, gets its config and ACKs.
  const client = await xdsClient('xds:///reviews.bookinfo.svc.cluster.local:9080', ctx.serve.xds, CLIENT_ID);
  t.teardown(() => client.close());
  await eventually(() => callEcho(client, {}, {}, 2000), 20_000);
  const row = page.locator(`tr[data-proxy="${CLIENT_ID}"]`);
  await row.waitFor({ timeout: 20_000 });
  await row.locator('td[data-type="LDS"][data-state="SYNCED"]').waitFor({ timeout: 20_000 });
  // Another real grpc-js-xds client, one without ring hash: it NACKs details' RING_HASH cluster, with its own words.
  const nacker = startRingHashlessClient(ctx.serve.xds);
  t.teardown(() => nacker.stop());
  await page.locator(`tr[data-proxy="${NACKER_ID}"] td[data-type="CDS"][data-state="NACKED"]`).waitFor({ timeout: 30_000 });
  t.regex(await page.locator(`tr[data-nack-for="${NACKER_ID}"]`).innerText(), /CDS: .*unsupported lb_policy: RING_HASH/);
  t.is(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'still no reload');
  // Filter and search.
  await page.selectOption('select >> nth=1', 'NACKED');
  await eventually(async () => {
    if ((await page.locator('tbody tr[data-proxy]').count()) !== 1) throw new Error('filter not applied');
  });
  t.is(await page.locator('tbody tr[data-proxy]').first().getAttribute('data-proxy'), NACKER_ID);
  await page.selectOption('select >> nth=1', '');
  await page.fill('input[type=search]', 'productpage');
  await eventually(async () => {
    if ((await page.locator('tbody tr[data-proxy]').count()) !== 1) throw new Error('search not applied');
  });
  t.is(await page.locator('tbody tr[data-proxy]').first().getAttribute('data-proxy'), CLIENT_ID);
  await page.fill('input[type=search]', '');
  await page.locator('tbody tr[data-proxy]').nth(1).waitFor();
  await screenshot(page, 'proxies');

  // The client's page: what proxy-config shows, from the same config_dump.
  await page.click(`a[href="#/proxies/${encodeURIComponent(CLIENT_ID)}"]`);
  await page.locator('section[data-config="listener"] table').waitFor({ timeout: 10_000 });
  t.regex(await page.locator('section[data-config="listener"]').innerText(), /reviews\.bookinfo\.svc\.cluster\.local:9080/);
  t.regex(await page.locator('section[data-config="cluster"]').innerText(), /outbound\|9080\|v2\|reviews\.bookinfo\.svc\.cluster\.local/);
  const first = page.locator('section[data-config="cluster"] details.res').first();
  await first.locator('summary').click();
  await first.locator('pre').waitFor();
  t.regex(await first.locator('pre').innerText(), /^name: /m, 'YAML by default');
  await first.locator('button:text("JSON")').click();
  t.regex(await first.locator('pre').innerText(), /^\{\n {2}"@type": "type\.googleapis\.com\/envoy\.config\.cluster\.v3\.Cluster",\n {2}"name": /);
  await screenshot(page, 'proxy', { fullPage: true });
  const shifts = await page.evaluate(() => (window as unknown as { shifts: number }).shifts);
  t.log(`cumulative layout shift while the overview and proxies streamed: ${shifts.toFixed(4)}`);
  t.true(shifts < 0.1, `layout shift ${shifts}`);
});

test.serial('the mesh graph draws gateways, services, subsets and the weighted routes from config', async (t) => {
  const { page } = ctx.browser;
  await page.goto(`${ctx.serve.admin}/#/mesh`);
  await page.locator('svg g.node').first().waitFor({ timeout: 10_000 });
  const nodes = await page.locator('svg g.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')));
  for (const id of ['gw:bookinfo/bookinfo-gateway', 'svc:productpage.bookinfo.svc.cluster.local', 'svc:reviews.bookinfo.svc.cluster.local', 'sub:reviews.bookinfo.svc.cluster.local#v1', 'sub:reviews.bookinfo.svc.cluster.local#v2']) t.true(nodes.includes(id), `${id} in ${nodes.join(', ')}`);
  const labels = await page.locator('svg text.elabel').evaluateAll((els) => els.map((e) => e.textContent ?? ''));
  t.true(labels.includes('split 90%') && labels.includes('split 10%'), labels.join(' | '));
  t.true(labels.includes('pages'), labels.join(' | '));
  // Keyboard: a node takes focus and Enter selects it.
  await page.locator('g.node[data-node="svc:reviews.bookinfo.svc.cluster.local"]').focus();
  await page.keyboard.press('Enter');
  t.regex(await page.locator('[aria-label="selected node"]').innerText(), /route split 90%/);
  await screenshot(page, 'mesh');
});

test.serial('the diff page shows what `meshcd diff` prints for the same two commits', async (t) => {
  const { page } = ctx.browser;
  await page.goto(`${ctx.serve.admin}/#/diff`);
  // Defaults: the newest commit (the rejected one) against the commit served.
  await page.locator(`select[name=head] option[value="${ctx.bad}"]`).waitFor({ state: 'attached', timeout: 10_000 });
  await eventually(async () => {
    if ((await page.locator('select[name=base]').inputValue()) !== ctx.good) throw new Error('base not defaulted yet');
  });
  t.is(await page.locator('select[name=head]').inputValue(), ctx.bad!);
  await page.click('button:text("Compare")');
  const report = page.locator('[data-diff-report]');
  await report.waitFor({ timeout: 60_000 });
  t.regex(await report.locator('details[data-resource="VirtualService/bookinfo/broken"]').innerText(), /\+\s+hosts:/);
  t.regex(await report.innerText(), /MCD0100/);
  t.regex(await report.locator('[data-envoy]').innerText(), /representative proxies change/);
  t.regex(page.url(), new RegExp(`#/diff\\?source=platform&base=${ctx.good}&head=${ctx.bad!}`));
  await screenshot(page, 'diff');
  await page.click('button:text("CLI text")');
  const shown = await page.locator('pre[data-diff-text]').innerText({ timeout: 60_000 });
  const cli = await runCli(['diff', '--base', ctx.good, '--head', ctx.bad!, '--path', 'mesh'], ctx.repo.work);
  t.is(cli.code, 1, cli.stderr);
  t.is(shown.trim(), cli.stdout.trim());
  await page.click('button:text("Rendered")');

  // Paste instead of pick: a ref the server does not know is refused as typed, and by the diff, with the reason.
  await page.fill('input[name=head-ref]', 'no-such-ref');
  const headStatus = page.locator('#head-status');
  await headStatus.locator('text=/is not a branch/').waitFor({ timeout: 10_000 });
  t.is(await headStatus.innerText(), `"no-such-ref" is not a branch, tag or commit in source platform (meshcd's clone holds what it fetched of main since its first fetch)`);
  t.is(await page.locator('input[name=head-ref]').getAttribute('aria-invalid'), 'true');
  t.is(await page.locator('select[name=head] option:checked').innerText(), 'pasted: no-such-ref');
  await page.click('button:text("Compare")');
  t.regex(await page.locator('.alert[role=alert]').innerText({ timeout: 20_000 }), /^GET \/api\/v1\/sources\/platform\/diff: head: "no-such-ref" is not a branch, tag or commit in source platform/);
  // Refs that name commits: each is resolved as typed, and the diff runs between them.
  await page.fill('input[name=base-ref]', 'main~1');
  await page.fill('input[name=head-ref]', 'main');
  await page.locator(`#base-status[data-resolved="${ctx.good}"]`).waitFor({ timeout: 10_000 });
  await page.locator(`#head-status[data-resolved="${ctx.bad!}"]`).waitFor({ timeout: 10_000 });
  t.is(await page.locator('#base-status').innerText(), `${ctx.good.slice(0, 10)} reviews: send 10% to v2`);
  await page.click('button:text("Compare")');
  await page.locator('[data-diff-report] >> text=/Base main~1, head main\./').waitFor({ timeout: 60_000 });
  t.regex(await page.locator('[data-diff-report] p').first().innerText(), new RegExp(`^main~1@${ctx.good.slice(0, 12)} → main@${ctx.bad!.slice(0, 12)}: 1 resource change`));
  t.regex(page.url(), /#\/diff\?source=platform&base=main%7E1&head=main$/);
  t.is(await page.locator('.alert[role=alert]').count(), 0, 'the earlier error is gone');
});

test.serial('keyboard navigation, a narrow window and the dark theme; no console error or CSP violation', async (t) => {
  const { page } = ctx.browser;
  await page.goto(`${ctx.serve.admin}/`);
  await page.locator('[data-source="platform"] .served .subject').waitFor({ timeout: 10_000 });
  // Tab from the top reaches the skip link, then the navigation; Enter follows a link and focuses the content.
  await page.keyboard.press('Tab');
  t.is(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  let reached = false;
  for (let i = 0; i < 8 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = (await page.evaluate(() => document.activeElement?.textContent)) === 'Rollouts';
  }
  t.true(reached, 'Tab reaches the Rollouts link');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => location.hash === '#/rollouts');
  t.is(await page.evaluate(() => document.activeElement?.id), 'main');
  // Visible focus on every stop of the mesh page (links, buttons, the namespace filter, the graph and its nodes, the table's links).
  await page.goto(`${ctx.serve.admin}/#/mesh`);
  await page.locator('svg g.node').first().waitFor({ timeout: 10_000 });
  const stops: string[] = [];
  for (let i = 0; i < 24; i++) {
    await page.keyboard.press('Tab');
    stops.push(
      await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el || el === document.body) return 'body';
        const cs = getComputedStyle(el);
        const box = el.querySelector(':scope > rect');
        // A graph node shows focus by its border (an outline around an SVG group is not drawn everywhere).
        const ring = box ? parseFloat(getComputedStyle(box).strokeWidth) >= 3 : cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2;
        return `${el.tagName}${el.dataset.node ? `[${el.dataset.node}]` : ''} ${ring ? 'ring' : 'NO RING'}`;
      }),
    );
  }
  t.log(`focus stops on the mesh page: ${stops.join(', ')}`);
  t.true(stops.filter((x) => x.startsWith('g[')).length >= 5, 'graph nodes take focus');
  t.deepEqual(stops.filter((x) => x.includes('NO RING')), [], stops.join(', '));
  // Narrow, light and dark: no page is wider than the window (long ids and names wrap; wide tables scroll inside their box).
  await page.setViewportSize({ width: 390, height: 844 });
  const pages: [string, string][] = [
    ['#/', '[data-source="platform"] .served .subject'],
    ['#/rollouts', 'td:text("No Rollout in the accepted config.")'],
    // The test's proxies have left by now: the table says so; a proxy's page with its long id says it is gone.
    ['#/proxies', 'td:text("No proxy connected.")'],
    [`#/proxies/${encodeURIComponent(CLIENT_ID)}`, 'h1 .mono'],
    ['#/mesh', 'svg g.node'],
    [`#/diff?source=platform&base=${ctx.good}&head=${ctx.bad!}`, '[data-diff-report]'],
  ];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [hash, ready] of pages) {
      await page.goto(`${ctx.serve.admin}/${hash}`);
      await page.locator(ready).first().waitFor({ timeout: 60_000 });
      const wide = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      t.true(wide[0]! <= wide[1]!, `${hash} in ${scheme} at 390 px: ${wide[0]} px wide`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto(`${ctx.serve.admin}/`);
  await page.locator('[data-source="platform"] .served .subject').waitFor({ timeout: 10_000 });
  await screenshot(page, 'overview-narrow', { fullPage: true });
  // Dark theme from the header's switch, kept across a reload.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.click('button[aria-label^="theme"]');
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark', undefined, { timeout: 5000 });
  await page.reload();
  await page.locator('[data-source="platform"] .served .subject').waitFor({ timeout: 10_000 });
  t.is(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  t.is(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(13, 17, 23)');
  await screenshot(page, 'overview-dark');
  // The only failed requests are the ones the tests ask for: an unknown Rollout, a pasted ref that names nothing, a proxy that has left (404s).
  t.deepEqual(ctx.browser.problems().filter((p) => !p.endsWith('the server responded with a status of 404 (Not Found)')), []);
});

test.serial('serve stops: the live indicator says so, a page says serve did not answer; serve is back: both recover without a reload', async (t) => {
  const { page } = ctx.browser;
  await page.goto(`${ctx.serve.admin}/`);
  await page.locator('[data-source="platform"] .served .subject').waitFor({ timeout: 10_000 });
  await page.locator('.live[data-state="open"]').waitFor({ timeout: 10_000 });
  await page.evaluate(() => void ((window as unknown as { marker: number }).marker = 99));
  const admin = ctx.serve.admin;
  await ctx.serve.stop();
  await page.locator('.live[data-state="lost"]').waitFor({ timeout: 20_000 });
  t.is(await page.locator('.live').innerText(), 'disconnected, retrying');
  t.regex((await page.locator('.live').getAttribute('title'))!, /meshcd serve has not answered since .*; retrying/);
  // A page opened meanwhile says what is wrong, in words.
  await page.click('nav >> text=Rollouts');
  t.regex(await page.locator('.alert[role=alert]').innerText({ timeout: 10_000 }), /^GET \/api\/v1\/rollouts: meshcd serve did not answer/);
  t.is(await page.locator('td:text("No Rollout in the accepted config.")').count(), 0, 'no "empty" claim while the server cannot be asked');
  // Back on the same port with the same state: the stream reconnects and the page reloads its data by itself.
  ctx.serve = await startServe(ctx.source, ['--no-ca', '--state-dir', join(ctx.root, 'state'), '--admin-port', new URL(admin).port]);
  t.is(ctx.serve.admin, admin);
  await page.locator('.live[data-state="open"]').waitFor({ timeout: 30_000 });
  await page.locator('.alert[role=alert]').waitFor({ state: 'detached', timeout: 10_000 });
  await page.locator('td:text("No Rollout in the accepted config.")').waitFor({ timeout: 10_000 });
  t.is(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 99, 'no reload');
});

test.serial('overview: a force-push shows up as a notice and a failing fetch as an error, live', async (t) => {
  const { page } = ctx.browser;
  await page.goto(`${ctx.serve.admin}/`);
  const card = page.locator('[data-source="platform"]');
  await card.locator('.served .subject').waitFor({ timeout: 10_000 });
  await page.evaluate(() => void ((window as unknown as { marker: number }).marker = 7));
  // History rewritten: main goes back to the good commit plus a new one, pushed with --force.
  await ctx.repo.git('reset', '-q', '--hard', ctx.good);
  const rewritten = await ctx.repo.commit({ 'mesh/notes.yaml': '# nothing to apply\n' }, 'rewrite: drop the broken route');
  await ctx.repo.push({ force: true });
  await hook(ctx.serve);
  await card.locator(`.served[data-revision="main@sha1:${rewritten}"]`).waitFor({ timeout: 20_000 });
  await card.locator('h3:text("Notices") + ul li').first().waitFor({ timeout: 10_000 });
  t.regex(await card.locator('h3:text("Notices") + ul').innerText(), new RegExp(`force-push on main: ${rewritten}.* does not descend from the previously fetched`));
  // The Git server goes away: the next fetch fails and the card says so (the commit served stays).
  await ctx.git.close();
  await hook(ctx.serve);
  await card.locator('h2 .badge:text("fetch failing")').waitFor({ timeout: 20_000 });
  t.regex(await card.locator('.alert[role=alert]').innerText(), /^Fetch failed \d+× \(last .*\): .*platform\.git/);
  t.is(await card.locator('.served').getAttribute('data-revision'), `main@sha1:${rewritten}`);
  t.regex(await page.locator('.cards').innerText(), /1 failing to fetch/);
  t.is(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 7, 'no reload');
  await screenshot(page, 'overview-fetch-failing', { fullPage: true });
});
