import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { SNI_FOR_IP_TARGETS, tlsNameOptions } from '../../../src/ca/client.js';
import { tempDir } from './_helpers.js';

test('dialled by IP, the CA client sends no IP as TLS ServerName (DEP0123) but still checks the IP on the certificate', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const ca = await CertificateAuthority.open({ stateDir: dir });
  t.teardown(() => ca.close());
  const cert = new X509Certificate(ca.issueServerCert({ dns: ['meshcd.meshcd-system.svc'], ips: ['127.0.0.1'] }).certChainPem).toLegacyObject();
  const ip = tlsNameOptions('127.0.0.1:15012', undefined);
  t.is(ip.options['grpc.ssl_target_name_override'], SNI_FOR_IP_TARGETS);
  t.is(ip.verify.checkServerIdentity!(SNI_FOR_IP_TARGETS, cert), undefined);
  t.true(tlsNameOptions('10.0.0.9:15012', undefined).verify.checkServerIdentity!(SNI_FOR_IP_TARGETS, cert) instanceof Error, 'another IP is refused');
  t.true(tlsNameOptions('[::1]:15012', undefined).verify.checkServerIdentity!(SNI_FOR_IP_TARGETS, cert) instanceof Error);
  t.is(tlsNameOptions('127.0.0.1:15012', '127.0.0.1').options['grpc.ssl_target_name_override'], SNI_FOR_IP_TARGETS, '--ca-server-name given as an IP');
  // A DNS name goes to grpc-js unchanged.
  t.deepEqual(tlsNameOptions('meshcd.meshcd-system.svc:15012', undefined), { options: {}, verify: {} });
  t.deepEqual(tlsNameOptions('127.0.0.1:15012', 'meshcd.meshcd-system.svc').options, { 'grpc.ssl_target_name_override': 'meshcd.meshcd-system.svc' });
});
