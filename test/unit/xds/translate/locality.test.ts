import test from 'ava';
import type { MeshEndpoint } from '../../../../src/mesh/model.js';
import { localityGroups, localityMatches, localityPriority, type LocalityContext } from '../../../../src/xds/translate/locality.js';
import { loadAssignment } from '../../../../src/xds/translate/endpoints.js';

const ep = (address: string, locality: string, labels: Record<string, string> = {}): MeshEndpoint => ({ workload: `Pod/a/${address}`, namespace: 'a', address, ports: {}, labels, locality, weight: 1 });
const EPS = [ep('10.0.0.1', 'us-east/us-east-1a/r1'), ep('10.0.0.2', 'us-east/us-east-1a/r2'), ep('10.0.0.3', 'us-east/us-east-1b/r1'), ep('10.0.0.4', 'us-west/us-west-1a/r1'), ep('10.0.0.5', 'eu/eu-1a/r1')];
const ctx = (setting: LocalityContext['setting'], failover = true, proxyLabels: Record<string, string> = {}): LocalityContext => ({ proxyLocality: 'us-east/us-east-1a/r1', proxyLabels, setting, failover });
const summary = (groups: ReturnType<typeof localityGroups>) => groups.map((g) => `${g.priority}:${g.locality}:${g.weight}`);

test('locality patterns and Istio\'s LbPriority', (t) => {
  t.true(localityMatches('us-east/us-east-1a/r1', 'us-east/*'));
  t.true(localityMatches('us-east/us-east-1a/r1', 'us-east/us-east-1a/*'));
  t.true(localityMatches('us-east/us-east-1a/r1', 'us-east'));
  t.false(localityMatches('us-east/us-east-1a/r1', 'us-east/us-east-1b/*'));
  t.deepEqual(EPS.map((e) => localityPriority('us-east/us-east-1a/r1', e.locality)), [0, 1, 2, 3, 3]);
});

test('default failover: priorities by locality, renumbered without gaps; failover rules push other regions down', (t) => {
  t.deepEqual(summary(localityGroups(EPS, ctx({}))), ['0:us-east/us-east-1a/r1:1', '1:us-east/us-east-1a/r2:1', '2:us-east/us-east-1b/r1:1', '3:eu/eu-1a/r1:1', '3:us-west/us-west-1a/r1:1']);
  t.deepEqual(summary(localityGroups(EPS, ctx({ failover: [{ from: 'us-east', to: 'us-west' }] }))), ['0:us-east/us-east-1a/r1:1', '1:us-east/us-east-1a/r2:1', '2:us-east/us-east-1b/r1:1', '3:us-west/us-west-1a/r1:1', '4:eu/eu-1a/r1:1']);
});

test('failover needs outlier detection and a proxy locality; enabled: false turns it off', (t) => {
  const plain = summary(localityGroups(EPS));
  t.deepEqual(summary(localityGroups(EPS, ctx({}, false))), plain);
  t.deepEqual(summary(localityGroups(EPS, { ...ctx({}), proxyLocality: undefined })), plain);
  t.deepEqual(summary(localityGroups(EPS, ctx({ enabled: false }))), plain);
  t.true(plain.every((g) => g.startsWith('0:')));
});

test('failoverPriority: leading matching labels first; topology keys compare localities', (t) => {
  const eps = [ep('10.0.0.1', 'us-east/us-east-1a/r1', { 'topology.istio.io/network': 'n1' }), ep('10.0.0.2', 'us-west/us-west-1a/r1', { 'topology.istio.io/network': 'n1' }), ep('10.0.0.3', 'us-east/us-east-1b/r1', { 'topology.istio.io/network': 'n2' })];
  const groups = localityGroups(eps, ctx({ failoverPriority: ['topology.istio.io/network', 'topology.kubernetes.io/region'] }, true, { 'topology.istio.io/network': 'n1' }));
  t.deepEqual(groups.map((g) => `${g.priority}:${g.endpoints.map((e) => e.address).join(',')}`), ['0:10.0.0.1', '1:10.0.0.2', '2:10.0.0.3']);
});

test('distribute: weights from the first matching rule; a wildcard share is split; unnamed localities get nothing', (t) => {
  const groups = localityGroups(EPS, ctx({ distribute: [{ from: 'us-west/*', to: { 'eu/*': 100 } }, { from: 'us-east/us-east-1a/*', to: { 'us-east/us-east-1a/*': 80, 'us-west/*': 20 } }] }, false));
  t.deepEqual(summary(groups), ['0:us-east/us-east-1a/r1:40', '0:us-east/us-east-1a/r2:40', '0:us-west/us-west-1a/r1:20']);
});

test('loadAssignment carries the priorities as EDS priority', (t) => {
  const cla = loadAssignment('c', EPS, 80, undefined, ctx({})) as { endpoints: { priority?: number; locality: Record<string, string> }[] };
  t.deepEqual(cla.endpoints.map((g) => g.priority ?? 0), [0, 1, 2, 3, 3]);
  t.deepEqual(cla.endpoints[0]!.locality, { region: 'us-east', zone: 'us-east-1a', sub_zone: 'r1' });
});
