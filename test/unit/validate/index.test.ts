import test from 'ava';
import { loadYaml } from '../../helpers/revision.js';
import { validate } from '../../../src/validate/index.js';

test('a rule after a catch-all is reported once, with the analyzer code', async (t) => {
  const load = await loadYaml({
    'vs.yaml': `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cart}
spec:
  hosts: [cart.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.5}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart}
spec:
  hosts: [cart.default.svc.cluster.local]
  http:
  - name: main
    route: [{destination: {host: cart.default.svc.cluster.local}}]
    timeout: 2s
  - name: never
    route: [{destination: {host: cart.default.svc.cluster.local}}]
    timeout: 2s
`,
  });
  const codes = validate(load).filter((d) => d.severity !== 'info').map((d) => `${d.code}@${d.origin?.line}`);
  t.true(codes.includes('IST0130@20'), codes.join(', '));
  t.false(codes.some((c) => c.startsWith('MCD0211')), codes.join(', '));
});
