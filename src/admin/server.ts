// The admin HTTP server (port 15014 by default, like istiod's monitoring
// port): /ready, /metrics, and routes that other components register
// (sources API and webhooks, xDS debug endpoints). Components do not start
// their own HTTP servers; they register routes here.

import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from '../util/metrics.js';
import { logger } from '../util/log.js';

export interface AdminRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Raw body bytes (read for POST/PUT, at most `maxBodyBytes`). */
  body: Buffer;
  /** Path parameters from `:name` segments. */
  params: Record<string, string>;
}

export interface AdminResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type AdminHandler = (req: AdminRequest) => AdminResponse | Promise<AdminResponse>;

export interface RouteOptions {
  /**
   * `admin-token`: the request must carry `Authorization: Bearer <token>`
   * matching `serve --admin-token-file` (compared in constant time). With no
   * token configured such routes answer 403, so a mutating route is never
   * open by default.
   */
  auth?: 'admin-token';
}

interface Route {
  method: string;
  parts: string[];
  handler: AdminHandler;
  opts: RouteOptions;
}

export function json(status: number, value: unknown): AdminResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value, null, 2) + '\n' };
}

export function text(status: number, body: string): AdminResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body };
}

export class AdminServer {
  private routes: Route[] = [];
  private server: Server | undefined;
  private readyCheck: () => boolean = () => true;
  private tokenDigest: Buffer | undefined;
  private log = logger('admin');
  constructor(private readonly maxBodyBytes = 1024 * 1024) {
    this.route('GET', '/ready', () => (this.readyCheck() ? text(200, 'ready\n') : text(503, 'not ready: no revision accepted yet\n')));
    this.route('GET', '/metrics', async () => ({ status: 200, headers: { 'content-type': registry.contentType }, body: await registry.metrics() }));
  }

  /** Register a handler; `:name` path segments become params. Later registrations of the same route win. */
  route(method: string, path: string, handler: AdminHandler, opts: RouteOptions = {}): void {
    const parts = path.split('/').filter(Boolean);
    this.routes = this.routes.filter((r) => !(r.method === method && r.parts.join('/') === parts.join('/')));
    this.routes.push({ method, parts, handler, opts });
  }

  /** The bearer token that routes registered with `auth: 'admin-token'` require (undefined: those routes answer 403). */
  setAdminToken(token: string | undefined): void {
    this.tokenDigest = token ? createHash('sha256').update(token).digest() : undefined;
  }

  /** undefined when allowed, else the refusal. */
  private authorize(route: Route, headers: IncomingMessage['headers']): AdminResponse | undefined {
    if (route.opts.auth !== 'admin-token') return undefined;
    if (!this.tokenDigest) return json(403, { error: 'this route needs the admin token, and meshcd serve was started without --admin-token-file' });
    const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
    if (!m) return { ...json(401, { error: 'missing bearer token (Authorization: Bearer <admin token>)' }), headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' } };
    const given = createHash('sha256').update(m[1]!).digest();
    if (!timingSafeEqual(given, this.tokenDigest)) return { ...json(401, { error: 'wrong admin token' }), headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' } };
    return undefined;
  }

  setReadyCheck(check: () => boolean): void {
    this.readyCheck = check;
  }

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    const segs = path.split('/').filter(Boolean).map(decodeURIComponent);
    for (const route of this.routes) {
      if (route.method !== method || route.parts.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length; i++) {
        const p = route.parts[i]!;
        if (p.startsWith(':')) params[p.slice(1)] = segs[i]!;
        else if (p !== segs[i]) {
          ok = false;
          break;
        }
      }
      if (ok) return { route, params };
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method ?? 'GET';
    const found = this.match(method, url.pathname);
    if (!found) {
      const anyMethod = this.routes.some((r) => this.match(r.method, url.pathname)?.route === r);
      send(res, anyMethod ? text(405, 'method not allowed\n') : text(404, 'not found\n'));
      req.resume();
      return;
    }
    const refused = this.authorize(found.route, req.headers);
    if (refused) {
      send(res, refused);
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > this.maxBodyBytes) {
          send(res, text(413, 'request body too large\n'));
          return;
        }
        chunks.push(c as Buffer);
      }
      const out = await found.route.handler({ method, path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks), params: found.params });
      send(res, out);
    } catch (err) {
      this.log.error({ path: url.pathname, err: (err as Error).message }, 'admin handler failed');
      send(res, text(500, 'internal error\n'));
    }
  }
}

function send(res: ServerResponse, out: AdminResponse): void {
  if (res.headersSent) return;
  res.writeHead(out.status, out.headers ?? {});
  res.end(out.body ?? '');
}
