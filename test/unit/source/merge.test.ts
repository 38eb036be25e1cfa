import test from 'ava';
import { loadRevision } from '../../../src/config/load.js';
import { mergeLoads } from '../../../src/source/merge.js';
import { memoryRevision } from '../../helpers/revision.js';
import { serviceYaml } from '../../helpers/git-repo.js';

async function sl(name: string, files: Record<string, string>, namespaces?: string[]) {
  const revision = memoryRevision(files, name);
  return { source: { name, ...(namespaces ? { namespaces } : {}) }, revision, load: await loadRevision(revision, { sourceName: name }) };
}

const MESH = `apiVersion: meshcd.io/v1alpha1
kind: MeshConfig
metadata:
  name: mesh
spec:
  trustDomain: example.org
`;

test('merges sources; keeps origins; locate() finds the owning source', async (t) => {
  const merged = mergeLoads([await sl('platform', { 'mesh.yaml': MESH, 'a.yaml': serviceYaml('a', 'istio-system') }), await sl('team', { 'b.yaml': serviceYaml('b', 'team') }, ['team'])]);
  t.deepEqual(merged.diagnostics.filter((d) => d.severity === 'error'), []);
  t.is(merged.config.get('ServiceEntry', 'team', 'b')?.origin.source, 'team');
  t.is(merged.config.mesh.trustDomain, 'example.org');
  t.deepEqual(merged.locate('ServiceEntry/team/b', 'spec.ports[0].number'), { file: 'b.yaml', line: 11, source: 'team' });
});

test('namespace limits, duplicates and two MeshConfigs are errors naming both places', async (t) => {
  const merged = mergeLoads([
    await sl('platform', { 'mesh.yaml': MESH, 'a.yaml': serviceYaml('a', 'team') }),
    await sl('team', { 'a.yaml': serviceYaml('a', 'team'), 'x.yaml': serviceYaml('x', 'other'), 'mesh.yaml': MESH }, ['team']),
    await sl('free', { 'mesh.yaml': MESH.replace('name: mesh', 'name: mesh') }),
  ]);
  const by = (code: string) => merged.diagnostics.filter((d) => d.code === code);
  t.is(by('MCD3002').length, 1);
  t.is(by('MCD3002')[0]!.message, 'ServiceEntry/team/a is defined by two sources: "team" at team:a.yaml:1 and "platform" at platform:a.yaml:1');
  t.is(by('MCD3001').length, 2);
  t.regex(by('MCD3001').map((d) => d.message).join('\n'), /MeshConfig mesh is mesh-wide, but source "team" is limited to namespaces team/);
  t.regex(by('MCD3001').map((d) => d.message).join('\n'), /ServiceEntry\/other\/x is in namespace "other"/);
  t.is(by('MCD3005').length, 1);
  t.falsy(merged.config.get('ServiceEntry', 'other', 'x'));
  t.is(merged.config.get('ServiceEntry', 'team', 'a')?.origin.source, 'platform');
});
