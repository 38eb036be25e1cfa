// Figures for `meshcd history` and `meshcd diff` on a repository of FILES
// config files and COMMITS commits (each commit changes one file; every third
// one changes the resource followed). Built with `git fast-import`, read with
// meshcd's object-store reader. Run: node dist/bench/history/run.js [files] [commits]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { resourceHistory } from '../../src/git/history.js';
import { commitRevision, openRepo, resolveCommit } from '../../src/git/repo.js';
import { loadRevision, ParseCache } from '../../src/config/load.js';
import { diffConfigSets } from '../../src/diff/resources.js';

const FILES = Number(process.argv[2] ?? 200);
const COMMITS = Number(process.argv[3] ?? 300);

function vs(i: number, weight: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: svc-${i}
  namespace: team-${i % 10}
spec:
  hosts: [svc-${i}.team-${i % 10}.svc.cluster.local]
  http:
  - route:
    - destination: {host: svc-${i}.team-${i % 10}.svc.cluster.local, subset: v1}
      weight: ${weight}
    - destination: {host: svc-${i}.team-${i % 10}.svc.cluster.local, subset: v2}
      weight: ${100 - weight}
`;
}

function data(s: string): string {
  return `data ${Buffer.byteLength(s)}\n${s}\n`;
}

function build(dir: string): void {
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  let stream = '';
  let t = 1767268800;
  const commit = (n: number, msg: string, files: [string, string][]) => {
    t += 60;
    stream += `commit refs/heads/main\nmark :${n}\nauthor Bench <bench@example.com> ${t} +0000\ncommitter Bench <bench@example.com> ${t} +0000\n${data(msg)}`;
    if (n > 1) stream += `from :${n - 1}\n`;
    for (const [p, c] of files) stream += `M 100644 inline ${p}\n${data(c)}`;
  };
  commit(1, 'initial', Array.from({ length: FILES }, (_, i) => [`mesh/team-${i % 10}/svc-${i}.yaml`, vs(i, 50)] as [string, string]));
  for (let n = 2; n <= COMMITS; n++) {
    const i = n % 3 === 0 ? 0 : 1 + (n % (FILES - 1));
    commit(n, `change svc-${i} (${n})`, [[`mesh/team-${i % 10}/svc-${i}.yaml`, vs(i, n % 100)]]);
  }
  execFileSync('git', ['fast-import', '--quiet'], { cwd: dir, input: stream });
  execFileSync('git', ['gc', '-q'], { cwd: dir });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'meshcd-bench-history-'));
  try {
    const t0 = performance.now();
    build(dir);
    const built = performance.now() - t0;
    const repo = await openRepo(dir);
    const head = await resolveCommit(repo, 'HEAD');

    const h0 = performance.now();
    const r = await resourceHistory(repo, head, 'VirtualService/team-0/svc-0', { path: 'mesh' });
    const historyMs = performance.now() - h0;

    const git0 = performance.now();
    execFileSync('git', ['log', '--format=%H', '--', 'mesh/team-0/svc-0.yaml'], { cwd: dir });
    const gitLogMs = performance.now() - git0;

    const repo2 = await openRepo(dir);
    const d0 = performance.now();
    const cache = new ParseCache();
    const base = await loadRevision(await commitRevision(repo2, await resolveCommit(repo2, 'HEAD~100'), { path: 'mesh' }), { cache });
    const tip = await loadRevision(await commitRevision(repo2, head, { path: 'mesh' }), { cache });
    const diffs = diffConfigSets(base.config, tip.config);
    const diffMs = performance.now() - d0;

    console.log(`machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, Node ${process.version}`);
    console.log(`repo: ${FILES} files, ${COMMITS} commits (built with git fast-import in ${built.toFixed(0)} ms)`);
    console.log(`history VirtualService/team-0/svc-0: ${r.entries.length} entries over ${r.walked} commits in ${historyMs.toFixed(0)} ms (${(historyMs / r.walked).toFixed(2)} ms/commit)`);
    console.log(`  git log -- <file> for comparison (path-based, not resource-based): ${gitLogMs.toFixed(0)} ms`);
    console.log(`diff HEAD~100..HEAD: ${diffs.length} resources changed, ${diffMs.toFixed(0)} ms (two revisions read, parsed, compared)`);
    console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
