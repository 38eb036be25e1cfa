// Every diagnostic code meshcd reports, documented in one place: its name,
// layer, default severity, meaning and Istio counterpart (or "meshcd only"),
// and, for a rule stricter than Istio's, why it is only a warning.
// `renderCodesPage()` makes docs/codes/README.md (one page, an anchor per
// code; test/unit/validate/catalog.test.ts keeps it current and checks that
// every code written anywhere in src/ has an entry) and `helpUri()` the link
// SARIF rules carry. Pure: reads only the code tables of validate/.
// Codes of other layers (sources MCD3xxx, translation MCD4xxx) are listed here
// because their owners' code does not carry descriptions; keep them in step.

import type { Severity } from '../api/types.js';
import { ANALYZERS } from './analyzers/index.js';
import { RULE_CODES } from './rules/codes.js';
import { SCHEMA_CODES } from './schema.js';

export type Layer = 'loading' | 'schema' | 'rules' | 'analyzers' | 'policies' | 'sources' | 'translation';

export interface CodeDoc {
  code: string;
  name: string;
  layer: Layer;
  /** Default severity; absent when it depends (policies, mixed rules). */
  severity?: Severity;
  meaning: string;
  /** Istio's counterpart: the same IST code, the Istio check it follows, or "meshcd only". */
  istio: string;
  /** For a check stricter than Istio's: why meshcd reports it (as a warning, never an error). */
  stricter?: string;
  /** Where an analyzer with Istio's code departs from it (severity, inputs), and why. */
  differs?: string;
}

/** The istio.io/istio source the analyzers and rules were compared with (pkg/config/analysis, pkg/config/validation). */
export const ISTIO_SOURCE_VERSION = 'v0.0.0-20260827124520-eed52ebb66ad';

export const DOCS_BASE = 'https://github.com/meshcd/meshcd/blob/main/docs/codes/README.md';

/** The SARIF `helpUri` of a code: its anchor on the codes page (policy codes share one). */
export function helpUri(code: string): string {
  return `${DOCS_BASE}#${code.startsWith('POL-') ? 'pol-' : code.toLowerCase()}`;
}

const LOADING: CodeDoc[] = [
  { code: 'MCD0001', name: 'ParseError', severity: 'error' as Severity, meaning: 'A config file is not valid YAML or JSON (read as Kubernetes reads it: sigs.k8s.io/yaml over go-yaml), or holds a value JSON cannot represent (.inf, .nan).' },
  { code: 'MCD0002', name: 'DuplicateResource', severity: 'error' as Severity, meaning: 'The same kind/namespace/name is defined twice; both places are named.' },
  { code: 'MCD0003', name: 'InputLimit', severity: 'error' as Severity, meaning: 'A file exceeds a parsing bound (size, alias expansion, nesting depth, document count).' },
  { code: 'MCD0004', name: 'NotText', severity: 'error' as Severity, meaning: 'A config file is binary or not UTF-8.' },
  { code: 'MCD0005', name: 'Unreadable', severity: 'error' as Severity, meaning: 'A config file cannot be read.' },
  { code: 'MCD0006', name: 'NotAResource', severity: 'error' as Severity, meaning: 'A document has a kind but no apiVersion (or the reverse), or a mesh kind has no metadata.name.' },
  { code: 'MCD0007', name: 'UnsupportedVersion', severity: 'error' as Severity, meaning: 'A mesh kind in an apiVersion its CRD does not serve.' },
  { code: 'MCD0008', name: 'MultipleMeshConfigs', severity: 'error' as Severity, meaning: 'More than one MeshConfig.' },
  { code: 'MCD0010', name: 'IgnoredKind', severity: 'info' as Severity, meaning: 'A document of a kind meshcd does not manage (e.g. a Deployment); ignored.' },
  { code: 'MCD0011', name: 'NotKubernetesShaped', severity: 'info' as Severity, meaning: 'A file or document with neither apiVersion nor kind (package.json, tsconfig.json, CI files); skipped, one finding per file.' },
].map((c) => ({ ...c, layer: 'loading' as const, istio: c.code === 'MCD0001' ? 'what `kubectl apply` refuses' : 'meshcd only' }));

const POLICIES: CodeDoc[] = [
  { code: 'MCD0400', name: 'PolicyFormat', severity: 'error' as Severity, meaning: 'A policy file is not a valid meshcd.io/v1alpha1 Policy.' },
  { code: 'MCD0401', name: 'PolicyCompileError', severity: 'error' as Severity, meaning: 'A policy CEL expression does not compile or does not return the right type.' },
  { code: 'MCD0402', name: 'PolicyEvaluationError', severity: 'warning' as Severity, meaning: 'A policy expression failed on a resource (e.g. a field read without has()).' },
  { code: 'POL-<name>', name: 'OrgPolicy', meaning: "A finding of an organisation policy (CEL) named in the code, with the policy's own severity and message. The baseline is in policies/." },
].map((c) => ({ ...c, layer: 'policies' as const, istio: 'meshcd only (in the spirit of Kubernetes ValidatingAdmissionPolicy)' }));

const SOURCES: CodeDoc[] = [
  { code: 'MCD3000', name: 'LoadFailed', severity: 'error' as Severity, meaning: 'An internal error while loading or validating a revision; the revision is rejected and the last good one keeps serving.' },
  { code: 'MCD3001', name: 'OutsideNamespaces', severity: 'error' as Severity, meaning: "A source defines a resource outside the namespaces it is allowed (`--source …,namespaces=`)." },
  { code: 'MCD3002', name: 'DefinedByTwoSources', severity: 'error' as Severity, meaning: 'Two sources define the same resource; both are named.' },
  { code: 'MCD3003', name: 'UnsignedCommit', severity: 'error' as Severity, meaning: 'A Git source requires signed commits and the commit is not signed.' },
  { code: 'MCD3004', name: 'UntrustedSignature', severity: 'error' as Severity, meaning: 'A commit is signed by a key that is not trusted.' },
  { code: 'MCD3005', name: 'MeshConfigInTwoSources', severity: 'error' as Severity, meaning: 'More than one source holds a MeshConfig.' },
  { code: 'MCD3007', name: 'PathNotInCommit', severity: 'error' as Severity, meaning: "A Git source's `path` does not exist in the commit." },
].map((c) => ({ ...c, layer: 'sources' as const, istio: 'meshcd only' }));

const TRANSLATION: [string, string, Severity, string][] = [
  ['MCD4001', 'RolloutOverlayMismatch', 'warning', 'A rollout overlay names a missing VirtualService or route, or has the wrong number of weights.'],
  ['MCD4002', 'DurationIgnored', 'warning', 'A duration that does not parse; ignored.'],
  ['MCD4003', 'InvalidDelegate', 'error', 'A delegate VirtualService has hosts, or delegates further.'],
  ['MCD4101', 'GrpcLoadBalancer', 'warning', 'Proxyless gRPC: LEAST_REQUEST, RANDOM or PASSTHROUGH become ROUND_ROBIN.'],
  ['MCD4102', 'GrpcOutlierDetection', 'warning', 'Proxyless gRPC: consecutive-error outlier detection becomes failure-percentage ejection.'],
  ['MCD4103', 'GrpcClientTls', 'warning', 'Proxyless gRPC: SIMPLE/MUTUAL TLS uses the mesh certificate provider.'],
  ['MCD4104', 'GrpcDnsEndpoints', 'warning', 'Proxyless gRPC: a DNS service with several endpoints; the first only.'],
  ['MCD4105', 'GrpcIgnoredPoolSetting', 'info', 'Proxyless gRPC ignores connectTimeout and maxRequestsPerConnection.'],
  ['MCD4106', 'GrpcHashPolicy', 'warning', 'Proxyless gRPC: cookie, source-IP or query-parameter hashing becomes channel hashing.'],
  ['MCD4107', 'GrpcIgnoredWarmup', 'info', 'Proxyless gRPC ignores load-balancer warmup.'],
  ['MCD4110', 'GrpcRouteLeftOut', 'warning', 'Proxyless gRPC: a redirect or direct response route is left out.'],
  ['MCD4111', 'GrpcNoDestination', 'warning', 'Proxyless gRPC: no destination of the route exists; route left out.'],
  ['MCD4112', 'GrpcHeaderChanges', 'warning', 'Proxyless gRPC: header changes are not applied.'],
  ['MCD4113', 'GrpcMirror', 'warning', 'Proxyless gRPC: mirroring is not done.'],
  ['MCD4114', 'GrpcRewrite', 'warning', 'Proxyless gRPC: rewrites are not applied.'],
  ['MCD4115', 'FaultAbortWithoutStatus', 'warning', 'A fault abort without a usable httpStatus or grpcStatus; abort left out.'],
  ['MCD4116', 'GrpcCors', 'info', 'CORS does not apply to proxyless gRPC.'],
  ['MCD4117', 'GrpcRetries', 'warning', 'Proxyless gRPC: unsupported retryOn conditions or perTryTimeout.'],
  ['MCD4120', 'AuthorizationActionIgnored', 'warning', 'AuthorizationPolicy action CUSTOM (or AUDIT on proxyless gRPC) is not supported; policy ignored.'],
  ['MCD4121', 'AuthorizationRulePartUnsupported', 'warning', 'An AuthorizationPolicy rule part that cannot be enforced (JWT, request.auth, HTTP fields on a TCP port): an ALLOW rule matches nothing, a DENY rule drops the condition.'],
  ['MCD4130', 'GrpcServerNonHttpPort', 'info', 'Proxyless gRPC server: a non-HTTP port.'],
  ['MCD4131', 'GrpcServerPermissive', 'info', 'Proxyless gRPC server: PERMISSIVE means plaintext.'],
  ['MCD4140', 'TcpServiceWithoutAddress', 'warning', 'Sidecar: TCP services without addresses share a port.'],
  ['MCD4142', 'MixedProtocolPort', 'warning', 'Sidecar: HTTP and TCP services on one port.'],
  ['MCD4143', 'ReservedPort', 'warning', 'Sidecar: a service on a port the proxy reserves.'],
  ['MCD4150', 'GatewayServerRepeated', 'warning', 'Gateway: a server repeats hosts or a catch-all; left out.'],
  ['MCD4151', 'GatewayServerWithoutCertificate', 'error', 'Gateway: an HTTPS server without a certificate; left out.'],
  ['MCD4160', 'GrpcConfigOverMessageLimit', 'warning', 'Proxyless gRPC: what a namespace\'s clients see of one type would pass gRPC\'s 4 MiB default receive limit; scope the namespace with a Sidecar.'],
];

/** Rules stricter than Istio's webhook (pkg/config/validation at the pinned Istio), found by the audit: warnings only. */
const STRICTER: Partial<Record<string, string>> = {
  MCD0203: 'Istio accepts a regex header or query match in a delegate VirtualService: warned because meshcd cannot merge it with the root route\'s matches.',
  MCD0213: 'Istio accepts a fault delay with neither fixedDelay nor exponentialDelay: warned because it delays nothing.',
  MCD0204: 'A weight on a lone destination is accepted by Istio and gets all traffic: warned because the number is then meaningless. HTTP route weights summing past 4294967295 are accepted by Istio: warned because Envoy and gRPC clients refuse such a route.',
  MCD0217: "A STATIC ServiceEntry with neither endpoints nor a workloadSelector is accepted by Istio: warned because nothing backs it and requests fail.",
  MCD0219: "Istio does not check spaceDelimitedClaims names: an empty one is warned because it can never match.",
  MCD0221: "Istio checks header names in outputClaimToHeaders only: a bad outputPayloadToHeader name is warned because Envoy refuses it.",
  MCD0230: 'Istio accepts weights that do not sum to 100 (they are relative): warned with the real split because a sum off 100 is usually a slip.',
};

function rulesDocs(): CodeDoc[] {
  return Object.values(RULE_CODES).map((c) => ({
    code: c.code,
    name: c.name,
    layer: 'rules' as const,
    meaning: c.meaning,
    istio: c.code === 'MCD0230' ? 'meshcd only (Istio accepts such weights silently)' : c.code === 'MCD0226' || c.code === 'MCD0227' ? 'meshcd only (meshcd kinds)' : c.code === 'MCD0299' ? 'meshcd only' : "Istio's webhook (pkg/config/validation), with its wording",
    ...(STRICTER[c.code] ? { stricter: STRICTER[c.code] } : {}),
  }));
}

function schemaDocs(): CodeDoc[] {
  return Object.values(SCHEMA_CODES).map((c) => ({
    code: c.code,
    name: c.name,
    layer: 'schema' as const,
    severity: 'error' as Severity,
    meaning: c.meaning,
    istio: c.code === 'MCD0109' ? 'meshcd only' : 'the Kubernetes API server, from the CRDs of istio.io/api (what `kubectl apply` refuses)',
  }));
}

/** Analyzers that keep Istio's code but not all of its behaviour, checked against pkg/config/analysis/msg/messages.yaml. */
const ANALYZER_STRICTER: Partial<Record<string, string>> = {
  IST0113: 'Istio has retired IST0113 (its messages list the code as RETIRED) and no longer reports this: meshcd keeps the check, as a warning, because every plaintext request to a STRICT workload is refused.',
};
const SECRETS_SEEN = 'Secrets are seen only by `serve` with Kubernetes and `--gateway-secrets`, which lists `kubernetes.io/tls` Secrets only (an Opaque Secret, which Istio would serve, is not found); `meshcd validate` on files and `--credentials-dir` read no Secrets, so nothing is reported, as istioctl analyze without a cluster skips this analyzer.';
const ANALYZER_DIFFERS: Partial<Record<string, string>> = {
  IST0101: `on a Gateway's credentialName (\`gateway/secrets\`) a warning, not an error: \`serve\` refuses a revision with any error, while a Secret created after its Gateway (cert-manager) is normal and istiod never refuses config over it. ${SECRETS_SEEN}`,
  IST0161: `an error in Istio, a warning here: \`serve\` refuses a revision with any error, while a certificate that expires is no fault of the revision, and istiod serves it anyway and only logs. ${SECRETS_SEEN}`,
  IST0173: 'an error in Istio, a warning here: `serve` refuses a revision with any error, while istiod never refuses config over an analyzer finding, and a subset whose workloads are not up yet is normal before a rollout. Istio counts only pods; meshcd counts WorkloadEntries too (and pods, against a cluster).',
};

function analyzerDocs(): CodeDoc[] {
  const by = new Map<string, CodeDoc>();
  for (const a of ANALYZERS) {
    for (const c of a.codes) {
      const prior = by.get(c.code);
      const meaning = `${c.description} (\`${a.name}\`)`;
      if (prior) prior.meaning += ` ${meaning}`;
      else {
        by.set(c.code, {
          code: c.code,
          name: c.name,
          layer: 'analyzers',
          severity: c.severity,
          meaning,
          istio: c.code.startsWith('IST') ? `\`istioctl analyze\` ${c.code} ${c.name}` : 'meshcd only',
          ...(ANALYZER_STRICTER[c.code] ? { stricter: ANALYZER_STRICTER[c.code] } : {}),
          ...(ANALYZER_DIFFERS[c.code] ? { differs: ANALYZER_DIFFERS[c.code] } : {}),
        });
      }
    }
  }
  by.set('IST0001', { code: 'IST0001', name: 'InternalError', layer: 'analyzers', severity: 'error', meaning: 'An analyzer failed on this input (a meshcd bug); the other layers still report their findings.', istio: '`istioctl analyze` IST0001 InternalError' });
  return [...by.values()];
}

/** Every code, in code order. */
export function codeCatalog(): CodeDoc[] {
  const translation = TRANSLATION.map(([code, name, severity, meaning]) => ({ code, name, severity, meaning, layer: 'translation' as const, istio: 'meshcd only (what a proxy kind cannot do, and how it is degraded)' }));
  const all = [...LOADING, ...schemaDocs(), ...rulesDocs(), ...analyzerDocs(), ...POLICIES, ...SOURCES, ...translation];
  const order = (c: string) => (c.startsWith('POL') ? `~${c}` : c.startsWith('IST') ? `MCD03${c}` : c);
  return all.sort((a, b) => (order(a.code) < order(b.code) ? -1 : 1));
}

const LAYER_TITLE: Record<Layer, string> = {
  loading: 'Loading (MCD00xx)',
  schema: 'Schema (MCD01xx)',
  rules: "Istio's per-kind rules (MCD02xx)",
  analyzers: 'Cross-resource analyzers (IST…, MCD03xx)',
  policies: 'Org policies (MCD04xx, POL-…)',
  sources: 'Sources (MCD3xxx)',
  translation: 'Translation (MCD4xxx)',
};

/** docs/codes/README.md. */
export function renderCodesPage(istioVersion: string): string {
  const out: string[] = [
    '# meshcd diagnostic codes',
    '',
    '<!-- GENERATED from src/validate/catalog.ts by `UPDATE_GOLDEN=1 npx ava dist/test/unit/validate/catalog.test.js`; do not edit. -->',
    '',
    `Every finding carries one of these codes. Istio counterparts are from Istio's analyzers and webhook as of \`istio.io/istio\` ${ISTIO_SOURCE_VERSION} (API \`istio.io/api\` ${istioVersion}, whose CRDs meshcd's schema layer is generated from). A rule stricter than Istio's is never an error: it is a warning, and the entry says why.`,
    '',
  ];
  const all = codeCatalog();
  for (const layer of Object.keys(LAYER_TITLE) as Layer[]) {
    const codes = all.filter((c) => c.layer === layer);
    out.push(`## ${LAYER_TITLE[layer]}`, '');
    for (const c of codes) {
      const anchor = c.code.startsWith('POL-') ? 'pol-' : c.code.toLowerCase();
      out.push(`<a id="${anchor}"></a>`, `### ${c.code} ${c.name}`, '');
      out.push(`- Severity: ${c.severity ?? 'as set by the policy'}`);
      out.push(`- Istio: ${c.istio}`);
      if (c.stricter) out.push(`- Stricter than Istio: ${c.stricter}`);
      if (c.differs) out.push(`- Differs from Istio: ${c.differs}`);
      out.push('', c.meaning, '');
    }
  }
  return out.join('\n');
}
