// A real Git smart-HTTP server for tests and benchmarks: the git CLI's
// `git http-backend` CGI, spawned once per request behind a Node HTTP server
// on 127.0.0.1. Optional basic or bearer auth, so credential handling is
// exercised against the same checks a hosted server makes. Also small git
// CLI helpers to make repositories with fixed authors and dates.

import { spawn, execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export type GitServerAuth = { user: string; password: string } | { token: string };

export interface GitServerOptions {
  /** Folder holding bare repositories (`<name>.git`). */
  root: string;
  auth?: GitServerAuth;
  /** Listen on this port (to come back on the same URL after close()); 0 by default. */
  port?: number;
}

export interface GitServer {
  /** `http://127.0.0.1:<port>/<repoName>` (add `.git` in repoName if the folder has it). */
  url(repoName: string): string;
  port: number;
  /** Number of requests served so far (authenticated or not). */
  requests(): number;
  /** From now on requests wait (unanswered) until release(): a Git server that hangs. */
  hold(): void;
  /** Answers the held requests and stops holding. */
  release(): void;
  /** Requests waiting in hold now. */
  held(): number;
  close(): Promise<void>;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function authorized(req: IncomingMessage, auth: GitServerAuth | undefined): string | undefined | false {
  if (!auth) return undefined;
  const header = req.headers.authorization ?? '';
  if ('token' in auth) {
    if (header.startsWith('Bearer ') && safeEqual(header.slice(7), auth.token)) return 'token';
    // Hosted servers also accept the token as a basic-auth password.
    if (header.startsWith('Basic ')) {
      const [, pass] = Buffer.from(header.slice(6), 'base64').toString().split(/:(.*)/s);
      if (pass !== undefined && safeEqual(pass, auth.token)) return 'token';
    }
    return false;
  }
  if (!header.startsWith('Basic ')) return false;
  const [user, pass] = Buffer.from(header.slice(6), 'base64').toString().split(/:(.*)/s);
  return user === auth.user && pass !== undefined && safeEqual(pass, auth.password) ? user : false;
}

export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  let count = 0;
  let holding = false;
  const waiting: (() => void)[] = [];
  const children = new Set<ReturnType<typeof spawn>>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    count++;
    if (holding) {
      req.pause();
      waiting.push(() => {
        req.resume();
        serve(req, res);
      });
      return;
    }
    serve(req, res);
  });
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    const user = authorized(req, opts.auth);
    if (user === false) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' });
      res.end('unauthorized\n');
      req.resume();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://git');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: opts.root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: user ?? '',
      REMOTE_ADDR: '127.0.0.1',
      GIT_CONFIG_NOSYSTEM: '1',
      HOME: opts.root,
    };
    if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
    if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
    if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
    const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    child.on('error', () => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
    req.pipe(child.stdin);
    child.stdin.on('error', () => undefined);
    // Parse the CGI header block, then stream the rest as the body.
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      let end = head.indexOf('\r\n\r\n');
      let sepLen = 4;
      if (end < 0) {
        end = head.indexOf('\n\n');
        sepLen = 2;
      }
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === 'status') status = parseInt(value, 10) || 500;
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      const rest = head.subarray(end + sepLen);
      if (rest.length) res.write(rest);
    });
    child.stdout.on('end', () => {
      if (!headersDone) res.writeHead(502);
      res.end();
    });
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    requests: () => count,
    hold: () => void (holding = true),
    release() {
      holding = false;
      for (const go of waiting.splice(0)) go();
    },
    held: () => waiting.length,
    async close() {
      for (const c of children) c.kill();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------
// git CLI helpers with a fixed identity, so commit ids are reproducible.

export const GIT_ENV: NodeJS.ProcessEnv = {
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'Test Author',
  GIT_COMMITTER_EMAIL: 'author@example.com',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
};

/** Runs git in `cwd`; returns trimmed stdout. */
export async function gitCli(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await execFileP('git', ['-c', 'init.defaultBranch=main', '-c', 'commit.gpgsign=false', ...args], {
    cwd,
    env: { ...process.env, HOME: cwd, ...GIT_ENV, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout.trim();
}
