import test from 'ava';
import { AdminServer } from '../../../src/admin/server.js';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { registerCaAdminRoutes } from '../../../src/ca/admin.js';
import { registry } from '../../../src/util/metrics.js';
import { tempDir } from './_helpers.js';

test('admin: /debug/ca shows status, /ca/trust-bundle.pem the roots, /metrics the root expiry', async (t) => {
  const { dir, cleanup } = tempDir();
  const ca = await CertificateAuthority.open({ stateDir: dir });
  const admin = new AdminServer();
  registerCaAdminRoutes(admin, ca);
  const port = await admin.listen(0);
  t.teardown(async () => {
    await admin.close();
    await ca.close();
    cleanup();
  });
  const status = (await (await fetch(`http://127.0.0.1:${port}/debug/ca`)).json()) as { mode: string; rotation: { phase: string }; roots: unknown[] };
  t.is(status.mode, 'self-signed');
  t.is(status.rotation.phase, 'idle');
  t.is(status.roots.length, 1);
  const pem = await (await fetch(`http://127.0.0.1:${port}/ca/trust-bundle.pem`)).text();
  t.is(pem, ca.trustBundle().rootsPem.join(''));
  const expiry = (await registry.getSingleMetric('meshcd_ca_root_expiry_seconds')!.get()).values[0]!.value;
  t.true(expiry > 9 * 365 * 86400 && expiry < 11 * 365 * 86400, `${expiry}`);
});
