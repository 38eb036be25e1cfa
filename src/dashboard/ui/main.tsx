// The dashboard app: hash routes (#/rollouts/NS/NAME …, so the server only
// ever serves one page and nothing secret is ever in a URL), the header with
// navigation, live status, theme and login, and the pages.

import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import './style.css';
import { live, useLiveState } from './live.js';
import { formatTime, LoginDialog, logout, ensureLogin, useToken } from './ui.js';
import { Overview } from './pages/overview.js';
import { RolloutList, RolloutPage } from './pages/rollouts.js';
import { ProxyList, ProxyPage } from './pages/proxies.js';
import { MeshPage } from './pages/mesh.js';
import { DiffPage } from './pages/diff.js';

export interface Route {
  path: string[];
  query: URLSearchParams;
}

function parseHash(): Route {
  const h = location.hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const path = (q < 0 ? h : h.slice(0, q)).split('/').filter(Boolean).map((s) => decodeURIComponent(s));
  return { path, query: new URLSearchParams(q < 0 ? '' : h.slice(q + 1)) };
}

const NAV = [
  { path: '', label: 'Overview' },
  { path: 'rollouts', label: 'Rollouts' },
  { path: 'proxies', label: 'Proxies' },
  { path: 'mesh', label: 'Mesh' },
  { path: 'diff', label: 'Diff' },
];

type ThemeChoice = 'system' | 'light' | 'dark';
const THEME_KEY = 'meshcd.theme';

function useTheme(): [ThemeChoice, string, () => void] {
  const [choice, setChoice] = useState<ThemeChoice>(() => (localStorage.getItem(THEME_KEY) as ThemeChoice | null) ?? 'system');
  const media = window.matchMedia('(prefers-color-scheme: dark)');
  const [systemDark, setSystemDark] = useState(media.matches);
  useEffect(() => {
    const on = (e: MediaQueryListEvent) => setSystemDark(e.matches);
    media.addEventListener('change', on);
    return () => media.removeEventListener('change', on);
  }, []);
  useEffect(() => {
    if (choice === 'system') {
      document.documentElement.removeAttribute('data-theme');
      localStorage.removeItem(THEME_KEY);
    } else {
      document.documentElement.setAttribute('data-theme', choice);
      localStorage.setItem(THEME_KEY, choice);
    }
  }, [choice]);
  const effective = choice === 'system' ? (systemDark ? 'dark' : 'light') : choice;
  const next = () => setChoice((c) => (c === 'system' ? (systemDark ? 'light' : 'dark') : c === 'light' ? 'dark' : 'light'));
  return [choice, effective, next];
}

function App() {
  const [route, setRoute] = useState(parseHash);
  const [choice, theme, nextTheme] = useTheme();
  const liveState = useLiveState();
  const token = useToken();
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    live.connect();
    const on = () => {
      setRoute(parseHash());
      // Keyboard and screen-reader users land on the new page's content.
      main.current?.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    };
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const [section = '', ...rest] = route.path;
  let page;
  let title = 'Overview';
  if (section === 'rollouts' && rest.length === 2) {
    page = <RolloutPage namespace={rest[0]!} name={rest[1]!} theme={theme} />;
    title = `Rollout ${rest[0]}/${rest[1]}`;
  } else if (section === 'rollouts') {
    page = <RolloutList />;
    title = 'Rollouts';
  } else if (section === 'proxies' && rest.length >= 1) {
    page = <ProxyPage id={rest.join('/')} />;
    title = `Proxy ${rest.join('/')}`;
  } else if (section === 'proxies') {
    page = <ProxyList query={route.query} />;
    title = 'Proxies';
  } else if (section === 'mesh') {
    page = <MeshPage />;
    title = 'Mesh';
  } else if (section === 'diff') {
    page = <DiffPage query={route.query} />;
    title = 'Diff';
  } else page = <Overview />;
  useEffect(() => void (document.title = `${title} · meshcd`), [title]);

  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), main.current?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          meshcd
        </a>
        <nav aria-label="main">
          <ul>
            {NAV.map((n) => (
              <li key={n.path}>
                <a href={`#/${n.path}`} aria-current={section === n.path ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="spacer" />
        <div class="tools">
          <span class="live" data-state={liveState} role="status" aria-live="polite" title={liveState === 'lost' ? `meshcd serve has not answered since ${formatTime(live.lostAt)}; retrying` : liveState === 'open' ? 'pages update as meshcd reports changes' : undefined}>
            {liveState === 'open' ? 'live' : liveState === 'connecting' ? 'connecting…' : 'disconnected, retrying'}
          </span>
          <button type="button" onClick={nextTheme} aria-label={`theme: ${choice === 'system' ? `system (${theme})` : choice}; switch`} title="switch light/dark theme">
            {theme === 'dark' ? '☾' : '☀'} <span class="hide-narrow">{choice === 'system' ? 'auto' : choice}</span>
          </button>
          {token ? (
            <button type="button" onClick={logout}>
              Log out
            </button>
          ) : (
            <button type="button" onClick={() => void ensureLogin()}>
              Log in
            </button>
          )}
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {page}
      </main>
      <LoginDialog />
    </>
  );
}

render(<App />, document.getElementById('app')!);
