import test from 'ava';
import { spawnSync } from 'node:child_process';
import { AdminServer, json } from '../../../src/admin/server.js';
import { buildProgram } from '../../../src/cli/main.js';
import { bashCompletion, fishCompletion, zshCompletion } from '../../../src/cli/completion.js';
import { configRows, dumpEntries, fetchSyncz, proxyStatus, secretSummary, typeSync } from '../../../src/cli/proxy.js';

const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';

test('typeSync: SYNCED, STALE, NACKED (only for the nonce last sent), NOT SENT, IGNORED', (t) => {
  t.is(typeSync(undefined).state, 'IGNORED');
  t.is(typeSync({ subscribed: '*' }).state, 'NOT SENT');
  t.is(typeSync({ sentNonce: '2', ackedNonce: '2' }).state, 'SYNCED');
  t.is(typeSync({ sentNonce: '3', ackedNonce: '2' }).state, 'STALE');
  t.deepEqual(typeSync({ sentNonce: '3', ackedNonce: '2', lastNack: { nonce: '3', message: 'bad' } }), { state: 'NACKED', sentNonce: '3', nack: 'bad' });
  t.is(typeSync({ sentNonce: '4', ackedNonce: '4', lastNack: { nonce: '3', message: 'old' } }).state, 'SYNCED', 'an old NACK followed by an ACK is synced');
});

test('proxy-status follows next tokens, and STALE fails only when still unacknowledged after --stale-after', async (t) => {
  const admin = new AdminServer();
  let acked = false;
  const proxies = [
    { proxy: 'a', kind: 'sidecar', namespace: 'ns', mode: 'sotw', connectedAt: '2026-01-01T00:00:00Z', types: { [CDS]: { sentNonce: '1', ackedNonce: '1' } } },
    { proxy: 'b', kind: 'grpc', namespace: 'ns', mode: 'delta', connectedAt: '2026-01-01T00:00:00Z', get types() { return { [LDS]: { sentNonce: '5', ackedNonce: acked ? '5' : '4' } }; } },
  ];
  const seen: string[] = [];
  admin.route('GET', '/debug/syncz', (req) => {
    seen.push(req.query.toString());
    const start = Number(req.query.get('continue') ?? 0);
    return json(200, { revision: 'r1', proxies: proxies.slice(start, start + 1), refused: [], ...(start + 1 < proxies.length ? { next: String(start + 1) } : {}) });
  });
  const port = await admin.listen(0);
  t.teardown(() => admin.close());
  const base = new URL(`http://127.0.0.1:${port}`);
  const all = await fetchSyncz(base);
  t.deepEqual(all.proxies.map((p) => p.proxy), ['a', 'b']);
  t.deepEqual(seen, ['', 'continue=1']);

  let slept = 0;
  const stillStale = await proxyStatus(base, undefined, 10, Date.now, async (ms) => void (slept += ms));
  t.is(slept, 10_000);
  t.deepEqual(stillStale.failing, ['b LDS STALE for more than 10s']);
  const recovered = await proxyStatus(base, undefined, 10, Date.now, async () => void (acked = true));
  t.deepEqual(recovered.failing, []);
  t.is(recovered.rows.find((r) => r.proxy === 'b')!.types.LDS.state, 'SYNCED');
  t.is(recovered.rows[0]!.revision, 'r1');
});

test('proxy-config rows from an Envoy config_dump; secrets never carry their content', (t) => {
  const dump = {
    configs: [
      { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', dynamic_active_clusters: [{ version_info: 'v1', cluster: { name: 'outbound|9080|v1|reviews.bookinfo.svc.cluster.local', type: 'EDS' } }, { version_info: 'v1', cluster: { name: 'BlackHoleCluster', type: 'STATIC' } }] },
      { '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump', dynamic_active_secrets: [{ name: 'default', version_info: 's1', secret: { name: 'default', tlsCertificate: { certificateChain: { inlineString: '-----BEGIN CERTIFICATE-----' }, privateKey: { inlineString: '[redacted]' } } } }] },
      { '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump', dynamic_endpoint_configs: [{ version_info: 'e1', endpoint_config: { clusterName: 'c', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: 80 } } }, loadBalancingWeight: 3 }] }] } }] },
    ],
  };
  t.deepEqual(configRows('cluster', dumpEntries(dump, 'cluster')), [
    ['NAME', 'SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE'],
    ['outbound|9080|v1|reviews.bookinfo.svc.cluster.local', 'reviews.bookinfo.svc.cluster.local', '9080', 'v1', 'outbound', 'EDS'],
    ['BlackHoleCluster', '-', '-', '-', '-', 'STATIC'],
  ]);
  t.deepEqual(configRows('endpoint', dumpEntries(dump, 'endpoint'))[1], ['10.0.0.1:80', 'HEALTHY', '3', 'c']);
  const secrets = dumpEntries(dump, 'secret').map(secretSummary);
  t.deepEqual(secrets, [{ name: 'default', type: 'tlsCertificate', version: 's1' }]);
  t.deepEqual(dumpEntries(dump, 'listener'), []);
  t.deepEqual(dumpEntries('nonsense', 'route'), []);
});

test('completion scripts are generated from the command tree; the bash one completes commands, subcommands and options', async (t) => {
  const program = await buildProgram();
  const bash = bashCompletion(program);
  t.is(spawnSync('bash', ['-n'], { input: bash }).status, 0);
  const complete = (words: string[]) => {
    const script = `${bash}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _meshcd_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return spawnSync('bash', ['-c', script], { encoding: 'utf8' }).stdout.trim().split('\n');
  };
  t.deepEqual(complete(['meshcd', 'proxy-']), ['proxy-status', 'proxy-config']);
  t.true(complete(['meshcd', 'proxy-status', '--st']).includes('--stale-after'));
  t.true(complete(['meshcd', 'ca', '']).includes('rotate'));
  t.true(complete(['meshcd', 'serve', '--admin-token-f']).includes('--admin-token-file'));
  t.true(complete(['meshcd', 'proxy-status', '--server', 'http://x', '-']).includes('--output'));
  t.regex(zshCompletion(program), /^#compdef meshcd\n/);
  const fish = fishCompletion(program);
  t.regex(fish, /complete -c meshcd -n "__fish_seen_subcommand_from proxy-status" -l stale-after -r -F/);
  t.regex(fish, /-a proxy-config -d "The listeners/);
});
