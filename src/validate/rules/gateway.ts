// Gateway rules: Istio's ValidateGateway, validateServer, validateServerPort,
// validateServerBind and validateTLSOptions (server side).
import type { GatewaySpec, ServerTLSSettings } from '../../api/istio.js';
import { at, type RuleContext } from './context.js';
import { checkPort, isDns1123Label, isIPAddress, isObject, namespaceSlashHostError, protocolIsHTTP, protocolIsTLS, protocolKnown } from './common.js';

// Envoy/BoringSSL cipher suite names Istio accepts (security.IsValidCipherSuite).
const CIPHER_SUITES = new Set([
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-PSK-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA',
  'ECDHE-PSK-AES128-CBC-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA', 'ECDHE-PSK-AES256-CBC-SHA', 'AES128-GCM-SHA256', 'AES256-GCM-SHA384',
  'AES128-SHA', 'PSK-AES128-CBC-SHA', 'AES256-SHA', 'PSK-AES256-CBC-SHA', 'DES-CBC3-SHA',
]);
const TLS_VERSION_ORDER = ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'];

export function checkGateway(ctx: RuleContext, spec: GatewaySpec): void {
  if (!isDns1123Label(ctx.resource.metadata.name)) ctx.error('name', 'metadata.name', `invalid gateway name: ${JSON.stringify(ctx.resource.metadata.name)} (a Gateway name must be a DNS-1123 label, without dots)`);
  const servers = Array.isArray(spec.servers) ? spec.servers : [];
  if (servers.length === 0) ctx.error('missing', 'spec', 'gateway must have at least one server');
  const portNames = new Map<string, number>();
  servers.forEach((s, i) => {
    const sp = at('spec.servers', i);
    if (!isObject(s)) return;
    checkServer(ctx, sp, s);
    if (isObject(s.port)) {
      const name = typeof s.port.name === 'string' ? s.port.name : '';
      if (portNames.has(name)) ctx.error('duplicate', at(at(sp, 'port'), 'name'), `port names in servers must be unique: duplicate name ${name} (also servers[${portNames.get(name)}])`);
      else portNames.set(name, i);
      if (typeof s.port.protocol === 'string' && !protocolIsHTTP(s.port.protocol) && isObject(s.tls) && s.tls.httpsRedirect) {
        ctx.warn('gatewayServer', at(at(sp, 'tls'), 'httpsRedirect'), 'tls.httpsRedirect should only be used with http servers');
      }
    }
  });
}

function checkServer(ctx: RuleContext, path: string, s: NonNullable<GatewaySpec['servers']>[number]): void {
  const hosts = Array.isArray(s.hosts) ? s.hosts : [];
  if (hosts.length === 0) ctx.error('missing', path, 'server config must contain at least one host');
  hosts.forEach((h, i) => {
    if (typeof h !== 'string') return;
    const e = namespaceSlashHostError(h, true);
    if (e) ctx.error('host', at(at(path, 'hosts'), i), e);
  });
  const bind = typeof s.bind === 'string' ? s.bind : '';
  let portOk = false;
  if (!isObject(s.port)) {
    ctx.error('port', path, 'port is required');
  } else {
    const pp = at(path, 'port');
    const before = ctx.diagnostics.length;
    const protocol = typeof s.port.protocol === 'string' ? s.port.protocol : '';
    if (!protocolKnown(protocol)) ctx.error('gatewayServer', at(pp, 'protocol'), `invalid protocol ${JSON.stringify(protocol)}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP`);
    const number = typeof s.port.number === 'number' ? s.port.number : 0;
    if (number > 0 || !bind.startsWith('unix://')) {
      if (s.port.number === undefined) ctx.error('port', at(pp, 'number'), 'port number must be in the range 1..65535 (it is missing)');
      else checkPort(ctx, at(pp, 'number'), number);
    }
    if (typeof s.port.targetPort === 'number' && s.port.targetPort > 0) ctx.error('gatewayServer', at(pp, 'targetPort'), 'targetPort has no impact on Gateways');
    if (!s.port.name) ctx.error('gatewayServer', pp, `port name must be set: ${JSON.stringify(s.port)}`);
    portOk = ctx.diagnostics.length === before;
  }
  if (bind.startsWith('unix://')) {
    const p = bind.slice('unix://'.length);
    if (p === '') ctx.error('address', at(path, 'bind'), 'unix address must not be empty');
    else if (!p.startsWith('@') && (!p.startsWith('/') || p.endsWith('/'))) ctx.error('address', at(path, 'bind'), `${p} is not an absolute path to a file`);
    if (isObject(s.port) && typeof s.port.number === 'number' && s.port.number !== 0) ctx.error('port', at(at(path, 'port'), 'number'), 'port number must be 0 for unix domain socket');
  } else if (bind !== '' && !isIPAddress(bind)) {
    ctx.error('address', at(path, 'bind'), `${bind} is not a valid IP`);
  }
  if (isObject(s.tls)) checkServerTLS(ctx, at(path, 'tls'), s.tls);
  if (portOk && isObject(s.port)) {
    const protocol = String(s.port.protocol);
    if (protocolIsTLS(protocol) && !s.tls) {
      ctx.error('tls', path, 'server must have TLS settings for HTTPS/TLS protocols');
    } else if (!protocolIsTLS(protocol) && isObject(s.tls)) {
      const t = s.tls;
      if (protocolIsHTTP(protocol)) {
        // An unset mode is PASSTHROUGH (the enum's zero value): `tls: {httpsRedirect: true}` is fine.
        const passthrough = !t.mode || t.mode === 'PASSTHROUGH' || t.mode === 'AUTO_PASSTHROUGH';
        if (!passthrough || t.caCertificates || t.privateKey || t.serverCertificate) ctx.error('tls', at(path, 'tls'), 'server cannot have TLS settings for plain text HTTP ports');
      } else {
        ctx.error('tls', at(path, 'tls'), 'server cannot have TLS settings for non HTTPS/TLS ports');
      }
    }
  }
}

export function checkServerTLS(ctx: RuleContext, path: string, tls: ServerTLSSettings & { caCrl?: string }): void {
  const min = tls.minProtocolVersion, max = tls.maxProtocolVersion;
  if (min && max && max !== 'TLS_AUTO' && TLS_VERSION_ORDER.indexOf(min) > TLS_VERSION_ORDER.indexOf(max)) {
    ctx.error('tls', at(path, 'maxProtocolVersion'), 'Tls max protocol version must be superior to min protocol version');
  }
  if ((min === 'TLSV1_0' || min === 'TLSV1_1') && !(tls.cipherSuites && tls.cipherSuites.length > 0)) {
    ctx.warn('tls', at(path, 'minProtocolVersion'), 'TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.');
  }
  const seen = new Set<string>();
  (Array.isArray(tls.cipherSuites) ? tls.cipherSuites : []).forEach((c, i) => {
    if (!CIPHER_SUITES.has(c)) ctx.warn('tls', at(at(path, 'cipherSuites'), i), `ignoring invalid cipher suites: [${c}]`);
    else if (seen.has(c)) ctx.warn('tls', at(at(path, 'cipherSuites'), i), `ignoring duplicate cipher suites: [${c}]`);
    seen.add(c);
  });
  const mode = tls.mode;
  if (mode === 'ISTIO_MUTUAL') {
    if (tls.serverCertificate) ctx.error('tls', at(path, 'serverCertificate'), 'ISTIO_MUTUAL TLS cannot have associated server certificate');
    if (tls.privateKey) ctx.error('tls', at(path, 'privateKey'), 'ISTIO_MUTUAL TLS cannot have associated private key');
    if (tls.caCertificates) ctx.error('tls', at(path, 'caCertificates'), 'ISTIO_MUTUAL TLS cannot have associated CA bundle');
    if (tls.credentialName) ctx.error('tls', at(path, 'credentialName'), 'ISTIO_MUTUAL TLS cannot have associated credentialName');
    return;
  }
  if ((mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') && (tls.caCrl || tls.serverCertificate || tls.privateKey || tls.caCertificates || tls.credentialName)) {
    ctx.warn('tls', path, `${mode} mode does not use certificates, they will be ignored`);
  }
  if ((mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') && tls.credentialName) return;
  if (mode === 'SIMPLE') {
    if (!tls.serverCertificate) ctx.error('tls', path, 'SIMPLE TLS requires a server certificate');
    if (!tls.privateKey) ctx.error('tls', path, 'SIMPLE TLS requires a private key');
  } else if (mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') {
    if (!tls.serverCertificate) ctx.error('tls', path, 'MUTUAL TLS requires a server certificate');
    if (!tls.privateKey) ctx.error('tls', path, 'MUTUAL TLS requires a private key');
    if (!tls.caCertificates) ctx.error('tls', path, 'MUTUAL TLS requires a client CA bundle');
  }
  if (tls.caCrl) {
    if (tls.credentialName) ctx.error('tls', at(path, 'caCrl'), 'CRL is not supported with credentialName. CRL has to be specified in the credential');
    if (mode === 'SIMPLE') ctx.error('tls', at(path, 'caCrl'), 'CRL is not supported with SIMPLE TLS');
  }
}
