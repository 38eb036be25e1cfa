// The admin HTTP server (port 15014 by default, like istiod's monitoring
// port): /ready, /metrics, and routes that other components register
// (sources API and webhooks, xDS debug endpoints, the dashboard's events and
// bundle). Components do not start their own HTTP servers; they register
// routes here.
//
// The HTTP layer is fastify: routing, percent-decoding, body limits and
// timeouts are its job, so that no request, however malformed, reaches a
// place where it can throw outside a handler. Components see only the small
// AdminRequest/AdminResponse shapes below, never fastify's types.

import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { Transform } from 'node:stream';
import { metric, registry } from '../util/metrics.js';
import { logger } from '../util/log.js';

export interface AdminRequest {
  method: string;
  /** Path without the query string (as sent, percent-encoded). */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Raw body bytes (read for any method that sends one, at most the route's body limit). */
  body: Buffer;
  /** Path parameters from `:name` segments, percent-decoded. */
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
   * open by default. A browser cannot send that header cross-site without a
   * CORS preflight (which this server never grants), and a request whose
   * `Origin` is not this server is refused as well (CSRF).
   */
  auth?: 'admin-token';
  /** Largest request body this route accepts, in bytes (default: the server's `maxBodyBytes`). */
  bodyLimit?: number;
}

/** One server-sent event. `data` is sent as JSON. */
export interface ServerEvent {
  event?: string;
  id?: string;
  data: unknown;
}

/** Called once per connected client; returns the unsubscribe function. */
export type EventSubscribe = (send: (e: ServerEvent) => void) => () => void;

export interface EventOptions {
  auth?: 'admin-token';
  /** At most this many clients at once on this path; more are answered 503 (default 64). */
  maxClients?: number;
  /** A comment line every this many ms keeps proxies and browsers from closing an idle stream (default 15 s). */
  heartbeatMs?: number;
}

export interface AdminLimits {
  /** Default body limit of a route (1 MiB). */
  maxBodyBytes: number;
  /** Open connections at once; further ones are refused by the kernel's accept (256). */
  maxConnections: number;
  /** Request line + headers (16 KiB); larger is answered 431. */
  maxHeaderBytes: number;
  /** Time to receive the headers (10 s), then the whole request (30 s); 408 after. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (5 s), and after this many requests (1000). */
  keepAliveTimeoutMs: number;
  maxRequestsPerSocket: number;
  /** A socket with no traffic at all is closed after this (60 s). */
  idleTimeoutMs: number;
  /** Longest path parameter (256 characters); longer paths are 404. */
  maxParamLength: number;
}

export const DEFAULT_ADMIN_LIMITS: Readonly<AdminLimits> = {
  maxBodyBytes: 1024 * 1024,
  maxConnections: 256,
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1000,
  idleTimeoutMs: 60_000,
  maxParamLength: 256,
};

/** Every method a route path answers; the ones with no handler are 405 with `Allow`. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Ceiling of any route's own body limit. */
const MAX_ROUTE_BODY_BYTES = 64 * 1024 * 1024;
/** An SSE client whose unsent backlog grows past this is disconnected rather than buffered without end. */
const SSE_MAX_BACKLOG_BYTES = 1024 * 1024;

interface Route {
  handler: AdminHandler;
  opts: RouteOptions;
  events?: { subscribe: EventSubscribe; maxClients: number; heartbeatMs: number };
}

type Match =
  | { kind: 'route'; route: Route; params: Record<string, string>; path: string; query: string }
  | { kind: 'method'; allow: string[] }
  | { kind: 'bad-url' }
  | { kind: 'none' };

function tooLarge(): Error {
  return Object.assign(new Error('request body too large'), { statusCode: 413 });
}

interface EventClient {
  res: ServerResponse;
  close: () => void;
}

export function json(status: number, value: unknown): AdminResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value, null, 2) + '\n' };
}

export function text(status: number, body: string): AdminResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body };
}

/** `/a//b/` and `a/b` are the same route, as they always were here. */
function normalize(path: string): string {
  return '/' + path.split('/').filter(Boolean).join('/');
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Cache policy of a built bundle: HTML revalidates, content-hashed assets (`app-3f9a1c2b.js`) are immutable. */
export function staticCacheControl(path: string): string {
  if (/\.html?$/i.test(path)) return 'no-cache';
  if (/[.-][A-Za-z0-9_]{8,}\.[A-Za-z0-9]+$/.test(path)) return 'public, max-age=31536000, immutable';
  return 'public, max-age=300';
}

export class AdminServer {
  /** find-my-way (fastify's own router) holds the routes, so that components may register after listen(). */
  private readonly router: ReturnType<typeof FindMyWay>;
  private statics: { prefix: string; dir: string }[] = [];
  private app: FastifyInstance | undefined;
  private readyCheck: () => boolean = () => true;
  private tokenDigest: Buffer | undefined;
  private eventClients = new Map<string, Set<EventClient>>();
  private matched = new WeakMap<FastifyRequest, Match>();
  private readonly limits: AdminLimits;
  private log = logger('admin');
  private requestErrors = metric('counter', 'meshcd_admin_request_errors_total', 'Admin HTTP requests refused before a handler (bad URL, body too large, timeouts) or failed in one', ['status']);

  constructor(limits: number | Partial<AdminLimits> = {}) {
    this.limits = { ...DEFAULT_ADMIN_LIMITS, ...(typeof limits === 'number' ? { maxBodyBytes: limits } : limits) };
    this.router = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: this.limits.maxParamLength, onBadUrl: () => undefined });
    this.route('GET', '/ready', () => (this.readyCheck() ? text(200, 'ready\n') : text(503, 'not ready: no revision accepted yet\n')));
    this.route('GET', '/metrics', async () => ({ status: 200, headers: { 'content-type': registry.contentType }, body: await registry.metrics() }));
  }

  /** Register a handler; `:name` path segments become params. Later registrations of the same route win. */
  route(method: string, path: string, handler: AdminHandler, opts: RouteOptions = {}): void {
    this.add(method.toUpperCase(), path, { handler, opts });
  }

  /**
   * Server-sent events on GET `path`: each client gets `subscribe(send)`;
   * the stream carries heartbeats, is bounded in clients and in unsent
   * backlog, and is closed by `close()`.
   */
  events(path: string, subscribe: EventSubscribe, opts: EventOptions = {}): void {
    const events = { subscribe, maxClients: opts.maxClients ?? 64, heartbeatMs: opts.heartbeatMs ?? 15_000 };
    this.add('GET', path, { handler: () => text(500, 'event stream\n'), opts: opts.auth ? { auth: opts.auth } : {}, events });
  }

  /**
   * Serve the files under `dir` at `prefix` (a built bundle): GET and HEAD
   * only, nothing outside `dir`, no dotfiles, content types by extension,
   * cache headers per `staticCacheControl`. Before `listen()`.
   */
  staticFiles(prefix: string, dir: string): void {
    if (this.app) throw new Error(`admin: staticFiles(${prefix}) after listen()`);
    const at = normalize(prefix);
    this.statics.push({ prefix: at, dir: resolve(dir) });
    // `/ui` → `/ui/`, so that the bundle's relative URLs resolve under it.
    if (at !== '/') this.route('GET', at, () => ({ status: 308, headers: { location: `${at}/` }, body: '' }));
  }

  /** The bearer token that routes registered with `auth: 'admin-token'` require (undefined: those routes answer 403). */
  setAdminToken(token: string | undefined): void {
    this.tokenDigest = token ? createHash('sha256').update(token).digest() : undefined;
  }

  setReadyCheck(check: () => boolean): void {
    this.readyCheck = check;
  }

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    if (this.app) throw new Error('admin: listen() called twice');
    const app = this.build();
    this.app = app;
    await app.listen({ port, host });
    return (app.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const app = this.app;
    if (!app) return;
    this.app = undefined;
    for (const clients of this.eventClients.values()) for (const c of [...clients]) c.close();
    await app.close();
  }

  // ---------------------------------------------------------------------------

  private add(method: string, path: string, route: Route): void {
    const key = normalize(path);
    if (this.router.hasRoute(method as HTTPMethod, key)) this.router.off(method as HTTPMethod, key);
    this.router.on(method as HTTPMethod, key, () => undefined, route);
  }

  /** The route of a request (cached per request), `bad-url` for a path that is not valid percent-encoding. */
  private match(req: FastifyRequest): Match {
    let m = this.matched.get(req);
    if (m) return m;
    const raw = req.url;
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const lookup = (method: string) => this.router.find(method as HTTPMethod, path);
    const found = lookup(req.method) ?? (req.method === 'HEAD' ? lookup('GET') : null);
    if (found && found.store === null) m = { kind: 'bad-url' };
    else if (found) m = { kind: 'route', route: found.store as Route, params: { ...(found.params as Record<string, string>) }, path, query: q < 0 ? '' : raw.slice(q + 1) };
    else {
      const allow = METHODS.filter((x) => lookup(x)?.store);
      m = allow.length ? { kind: 'method', allow: allow.includes('GET') && !allow.includes('HEAD') ? [...allow, 'HEAD'] : allow } : { kind: 'none' };
    }
    this.matched.set(req, m);
    return m;
  }

  private build(): FastifyInstance {
    const l = this.limits;
    const app = Fastify({
      logger: false,
      serverFactory: (handler) => {
        const server = createServer({ maxHeaderSize: l.maxHeaderBytes, requestTimeout: l.requestTimeoutMs, headersTimeout: l.headersTimeoutMs, keepAliveTimeout: l.keepAliveTimeoutMs }, handler);
        server.maxConnections = l.maxConnections;
        server.maxRequestsPerSocket = l.maxRequestsPerSocket;
        server.setTimeout(l.idleTimeoutMs);
        return server;
      },
      bodyLimit: l.maxBodyBytes,
      forceCloseConnections: true,
      return503OnClosing: true,
      exposeHeadRoutes: false,
      // Trailing and duplicate slashes are the component router's business (below); here they would hide a bundle's index.
      routerOptions: { maxParamLength: l.maxParamLength },
      // Anything wrong before routing (a path that is not valid percent-encoding) is the client's fault.
      frameworkErrors: (err, _req, reply) => {
        this.requestErrors.inc({ status: '400' });
        void (reply as unknown as FastifyReply).code(400).type('text/plain; charset=utf-8').send(`bad request: ${err.code === 'FST_ERR_BAD_URL' ? 'the path is not valid percent-encoding' : err.message}\n`);
      },
    });
    // Handlers get raw bytes whatever the content type (webhook signatures are over the exact body).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.setNotFoundHandler((_req, reply) => void reply.code(404).type('text/plain; charset=utf-8').send('not found\n'));
    app.setErrorHandler((err: { statusCode?: number; message?: string }, req, reply) => {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      this.requestErrors.inc({ status: String(status) });
      if (status === 500) this.log.error({ path: req.url.split('?')[0]!.slice(0, 200), err: err.message }, 'admin handler failed');
      const message = status === 413 ? 'request body too large' : status === 500 ? 'internal error' : err.message ?? 'bad request';
      void reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);
    });
    app.route({
      method: [...METHODS],
      url: '/*',
      bodyLimit: Math.max(l.maxBodyBytes, MAX_ROUTE_BODY_BYTES),
      // The route's own body limit, before a byte is buffered: by Content-Length, and by counting for chunked bodies.
      preParsing: (req, _reply, payload, done) => {
        const m = this.match(req);
        const limit = m.kind === 'route' ? (m.route.opts.bodyLimit ?? l.maxBodyBytes) : l.maxBodyBytes;
        const declared = Number(req.headers['content-length'] ?? 0);
        if (declared > limit) return done(tooLarge());
        let seen = 0;
        const counted = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            seen += chunk.length;
            cb(seen > limit ? tooLarge() : null, chunk);
          },
        });
        payload.on('error', (e) => counted.destroy(e));
        done(null, payload.pipe(counted));
      },
      handler: (req, reply) => this.dispatch(req, reply),
    });
    for (const s of this.statics) {
      void app.register(fastifyStatic, {
        root: s.dir,
        prefix: s.prefix === '/' ? '/' : `${s.prefix}/`,
        decorateReply: false,
        redirect: true,
        dotfiles: 'ignore',
        cacheControl: false,
        setHeaders: (reply, path) => void reply.header('cache-control', staticCacheControl(path)).header('x-content-type-options', 'nosniff'),
      });
    }
    return app;
  }

  private async dispatch(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const m = this.match(req);
    if (m.kind === 'bad-url') {
      this.requestErrors.inc({ status: '400' });
      return send(reply, text(400, 'bad request: the path is not valid percent-encoding\n'));
    }
    if (m.kind === 'none') return send(reply, text(404, 'not found\n'));
    if (m.kind === 'method') return send(reply, { ...text(405, 'method not allowed\n'), headers: { 'content-type': 'text/plain; charset=utf-8', allow: m.allow.join(', ') } });
    const { route } = m;
    const refused = this.authorize(route, req.method, req.headers);
    if (refused) return send(reply, refused);
    if (route.events) return this.stream(m.path, route.events, req, reply);
    const out = await route.handler({
      method: req.method,
      path: m.path,
      query: new URLSearchParams(m.query),
      headers: req.headers,
      body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      params: m.params,
    });
    return send(reply, out);
  }

  /** undefined when allowed, else the refusal. */
  private authorize(route: Route, method: string, headers: IncomingHttpHeaders): AdminResponse | undefined {
    if (route.opts.auth !== 'admin-token') return undefined;
    if (!this.tokenDigest) return json(403, { error: 'this route needs the admin token, and meshcd serve was started without --admin-token-file' });
    if (!SAFE_METHODS.has(method) && !sameOrigin(headers)) return json(403, { error: 'cross-origin request refused: Origin does not match this server' });
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header(headers, 'authorization') ?? '');
    if (!m) return { ...json(401, { error: 'missing bearer token (Authorization: Bearer <admin token>)' }), headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' } };
    const given = createHash('sha256').update(m[1]!).digest();
    if (!timingSafeEqual(given, this.tokenDigest)) return { ...json(401, { error: 'wrong admin token' }), headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' } };
    return undefined;
  }

  private stream(path: string, ev: NonNullable<Route['events']>, req: FastifyRequest, reply: FastifyReply): FastifyReply {
    const key = normalize(path);
    const clients = this.eventClients.get(key) ?? new Set<EventClient>();
    this.eventClients.set(key, clients);
    if (clients.size >= ev.maxClients) return reply.code(503).header('retry-after', '5').type('text/plain; charset=utf-8').send(`too many event clients (at most ${ev.maxClients})\n`);
    reply.hijack();
    const res = reply.raw;
    const sock = req.raw.socket;
    // Heartbeats keep the stream alive; the idle timeout is for silent sockets.
    sock.setTimeout(0);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 3000\n\n');
    let closed = false;
    let unsubscribe: (() => void) | undefined;
    const client: EventClient = {
      res,
      close: () => {
        if (closed) return;
        closed = true;
        clearInterval(beat);
        clients.delete(client);
        try {
          unsubscribe?.();
        } catch (err) {
          this.log.warn({ path, err: (err as Error).message }, 'event unsubscribe failed');
        }
        res.end();
      },
    };
    const write = (chunk: string) => {
      if (closed) return;
      if (res.writableLength > SSE_MAX_BACKLOG_BYTES) {
        this.log.warn({ path }, 'event client too slow; disconnected');
        client.close();
        return;
      }
      res.write(chunk);
    };
    const beat = setInterval(() => write(': heartbeat\n\n'), ev.heartbeatMs);
    beat.unref();
    clients.add(client);
    // The response's close, not the request's: an IncomingMessage closes once its (empty) body is read.
    res.on('close', client.close);
    res.on('error', client.close);
    try {
      unsubscribe = ev.subscribe((e) => write(formatEvent(e)));
    } catch (err) {
      this.log.error({ path, err: (err as Error).message }, 'event subscribe failed');
      client.close();
    }
    if (closed) unsubscribe?.();
    return reply;
  }
}

/** An `Origin` (when a browser sends one) must name this server; `Sec-Fetch-Site: cross-site` is refused too. */
function sameOrigin(headers: IncomingHttpHeaders): boolean {
  if (header(headers, 'sec-fetch-site') === 'cross-site') return false;
  const origin = header(headers, 'origin');
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === header(headers, 'host');
  } catch {
    return false;
  }
}

/** One SSE frame; the event name and id cannot carry a line break (it would start a new field). */
export function formatEvent(e: ServerEvent): string {
  const oneLine = (s: string) => s.replace(/[\r\n]/g, ' ');
  const data = JSON.stringify(e.data ?? null);
  return `${e.id !== undefined ? `id: ${oneLine(e.id)}\n` : ''}${e.event !== undefined ? `event: ${oneLine(e.event)}\n` : ''}data: ${data}\n\n`;
}

function send(reply: FastifyReply, out: AdminResponse): FastifyReply {
  return reply.code(out.status).headers(out.headers ?? {}).send(out.body ?? '');
}

