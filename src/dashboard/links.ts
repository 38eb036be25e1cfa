// Links from what meshcd reports to the repository's web UI: a diagnostic's
// file:line at the commit that has it. Only for hosts whose URL layout is
// known (GitHub, GitLab, Bitbucket, Gitea/Forgejo/Codeberg); anything else
// (a self-hosted server, a folder source) gets no link rather than a wrong
// one. Pure; imports nothing.

/** `main@sha1:<40 hex>` (or `sha1:<hex>` for a pinned commit) → the commit id; undefined for folder digests. */
export function commitOfRevision(revision: string | undefined): string | undefined {
  const m = /(?:^|@)sha1:([0-9a-f]{40})$/.exec(revision ?? '');
  return m?.[1];
}

type Layout = (base: string, commit: string, path: string, line: number | undefined) => string;

const LAYOUTS: { match: (host: string) => boolean; link: Layout }[] = [
  { match: (h) => h === 'github.com', link: (b, c, p, l) => `${b}/blob/${c}/${p}${l ? `#L${l}` : ''}` },
  { match: (h) => h === 'gitlab.com' || h.startsWith('gitlab.'), link: (b, c, p, l) => `${b}/-/blob/${c}/${p}${l ? `#L${l}` : ''}` },
  { match: (h) => h === 'bitbucket.org', link: (b, c, p, l) => `${b}/src/${c}/${p}${l ? `#lines-${l}` : ''}` },
  { match: (h) => h === 'codeberg.org' || h.startsWith('gitea.') || h.startsWith('forgejo.'), link: (b, c, p, l) => `${b}/src/commit/${c}/${p}${l ? `#L${l}` : ''}` },
];

/**
 * The web page showing `file` (relative to the source's config folder
 * `sourcePath`) at `line` in `commit` of the repository cloned from `url`;
 * undefined when the host's layout is not known or the inputs do not fit.
 */
export function fileLink(url: string, sourcePath: string, commit: string | undefined, file: string, line?: number): string | undefined {
  if (!commit || !/^[0-9a-f]{7,40}$/.test(commit)) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  const layout = LAYOUTS.find((x) => x.match(u.hostname.toLowerCase()));
  if (!layout) return undefined;
  const repo = u.pathname.replace(/\/+$/, '').replace(/\.git$/, '');
  if (!/^\/[^/]+\/[^/]/.test(repo)) return undefined;
  const segments = [...sourcePath.split('/'), ...file.split('/')].filter((s) => s !== '' && s !== '.');
  if (segments.length === 0 || segments.includes('..')) return undefined;
  const path = segments.map(encodeURIComponent).join('/');
  return layout.link(`https://${u.host}${repo}`, commit, path, line !== undefined && Number.isInteger(line) && line > 0 ? line : undefined);
}
