// A real browser for the dashboard tests: Debian's Chromium (/usr/bin/chromium,
// installed by .ci/deps) driven by playwright-core, headless, with a fresh
// profile folder per launch and Chromium's own background traffic (updates,
// sync, QUIC probes) switched off: nothing leaves the machine. Console errors,
// page errors and CSP violations are collected so a test can assert there
// were none. Screenshots go to dist/test-artifacts/dashboard/ and, with
// UPDATE_SCREENSHOTS=1, to docs/dashboard/ (the README's pictures).

import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.MESHCD_CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors, uncaught page errors and CSP violations of `page` seen so far. */
  problems(): string[];
  close(): Promise<void>;
}

export interface BrowserOptions {
  viewport?: { width: number; height: number };
  colorScheme?: 'light' | 'dark';
  timezoneId?: string;
}

export async function openBrowser(opts: BrowserOptions = {}): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: the dashboard tests need Debian's chromium (apt-get install chromium; .ci/deps installs it), or MESHCD_CHROMIUM=/path`);
  const profile = await mkdtemp(join(tmpdir(), 'meshcd-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    colorScheme: opts.colorScheme ?? 'light',
    ...(opts.timezoneId ? { timezoneId: opts.timezoneId } : {}),
    locale: 'en-US',
  });
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  };
  // Only the first page's: a test's other pages (another origin) fail on purpose.
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  let closed = false;
  return {
    context,
    page,
    problems: () => problems.slice(),
    async close() {
      if (closed) return;
      closed = true;
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

const ARTIFACTS = join(process.cwd(), 'dist', 'test-artifacts', 'dashboard');
const DOCS = join(process.cwd(), 'docs', 'dashboard');

/** A screenshot of the page as it is now: a test artifact, and the README's picture with UPDATE_SCREENSHOTS=1. */
export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: opts.fullPage ?? false, animations: 'disabled' });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    await mkdir(DOCS, { recursive: true });
    await copyFile(file, join(DOCS, `${name}.png`));
  }
  return file;
}
