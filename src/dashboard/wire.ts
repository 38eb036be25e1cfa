// The dashboard on the admin server, as `serve` wires it: the built bundle
// at `/` (index.html) and `/assets/…` (content-hashed files), the live event
// stream at `/api/v1/events`, and `/api/v1/auth` for the login form. Before
// admin.listen() (static files are registered then).
// Imports: src/admin, ./live.ts.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { json, text, type AdminServer } from '../admin/server.js';
import { LiveEvents, type LiveOptions } from './live.js';

/** Where `npm run build` puts the bundle: next to this file once compiled (dist/src/dashboard/public). */
export const BUNDLE_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/**
 * The page may run only its own scripts and talk only to this server; it
 * may not be framed (clickjacking) nor send a Referer elsewhere.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-cache',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export interface DashboardOptions extends LiveOptions {
  /** The built bundle (default BUNDLE_DIR). */
  bundleDir?: string;
}

export interface Dashboard {
  /** False when this installation has no built bundle (`/` says how to build it). */
  bundled: boolean;
  live: LiveEvents;
  close(): void;
}

export function wireDashboard(admin: AdminServer, opts: DashboardOptions): Dashboard {
  const dir = opts.bundleDir ?? BUNDLE_DIR;
  const index = join(dir, 'index.html');
  const bundled = existsSync(index);
  if (bundled) {
    const page = readFileSync(index);
    admin.route('GET', '/', () => ({ status: 200, headers: { ...PAGE_HEADERS }, body: page }));
    if (existsSync(join(dir, 'assets'))) admin.staticFiles('/assets', join(dir, 'assets'));
  } else {
    admin.route('GET', '/', () => text(404, 'the dashboard is not part of this build: `npm run build` builds it (dist/src/dashboard/public)\n'));
  }
  const live = new LiveEvents(opts);
  admin.events('/api/v1/events', live.subscribe);
  // The login form checks a token here before keeping it for the session.
  admin.route('GET', '/api/v1/auth', () => json(200, { ok: true }), { auth: 'admin-token' });
  return { bundled, live, close: () => live.close() };
}
