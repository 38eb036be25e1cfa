import test from 'ava';
import { commitOfRevision, fileLink } from '../../../src/dashboard/links.js';

const C = '0123456789abcdef0123456789abcdef01234567';

test('commitOfRevision: branch and pinned revisions give the commit; folder digests give none', (t) => {
  t.is(commitOfRevision(`main@sha1:${C}`), C);
  t.is(commitOfRevision(`sha1:${C}`), C);
  t.is(commitOfRevision(`dir@sha256:${'a'.repeat(64)}`), undefined);
  t.is(commitOfRevision(undefined), undefined);
  t.is(commitOfRevision('main@sha1:abc'), undefined);
});

test('fileLink: known hosts get their layout with the line; the config folder is part of the path', (t) => {
  const table: [string, string, string, number | undefined, string | undefined][] = [
    ['https://github.com/acme/mesh.git', 'mesh', 'bookinfo/vs.yaml', 12, `https://github.com/acme/mesh/blob/${C}/mesh/bookinfo/vs.yaml#L12`],
    ['https://github.com/acme/mesh', '', 'vs.yaml', undefined, `https://github.com/acme/mesh/blob/${C}/vs.yaml`],
    ['https://gitlab.com/group/sub/mesh.git', '', 'a b.yaml', 3, `https://gitlab.com/group/sub/mesh/-/blob/${C}/a%20b.yaml#L3`],
    ['https://gitlab.example.org/g/mesh.git', 'conf/', 'x.yaml', 1, `https://gitlab.example.org/g/mesh/-/blob/${C}/conf/x.yaml#L1`],
    ['https://bitbucket.org/team/mesh.git', '', 'x.yaml', 7, `https://bitbucket.org/team/mesh/src/${C}/x.yaml#lines-7`],
    ['https://codeberg.org/me/mesh.git', '', 'x.yaml', 2, `https://codeberg.org/me/mesh/src/commit/${C}/x.yaml#L2`],
    // Credentials in the clone URL never reach the link.
    ['https://user:secret@github.com/acme/mesh.git', '', 'x.yaml', 1, `https://github.com/acme/mesh/blob/${C}/x.yaml#L1`],
    // Unknown layouts, other schemes, odd paths: no link rather than a wrong one.
    ['http://127.0.0.1:8080/platform.git', '', 'x.yaml', 1, undefined],
    ['ssh://git@github.com/acme/mesh.git', '', 'x.yaml', 1, undefined],
    ['https://github.com/acme', '', 'x.yaml', 1, undefined],
    ['https://github.com/acme/mesh.git', '', '../../etc/passwd', 1, undefined],
    ['not a url', '', 'x.yaml', 1, undefined],
  ];
  for (const [url, path, file, line, want] of table) t.is(fileLink(url, path, C, file, line), want, url);
  t.is(fileLink('https://github.com/acme/mesh.git', '', undefined, 'x.yaml', 1), undefined, 'no commit, no link');
  t.is(fileLink('https://github.com/acme/mesh.git', '', 'main', 'x.yaml', 1), undefined, 'a branch name is not a commit');
});
