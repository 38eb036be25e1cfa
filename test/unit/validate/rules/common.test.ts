import test from 'ava';
import {
  durationError,
  hostSubsetOf,
  hostsMatch,
  ipSubnetError,
  namespaceSlashHostError,
  parseDuration,
  regexError,
  wildcardDomainError,
  headerValueError,
} from '../../../../src/validate/rules/common.js';

test('durations: Go/protobuf syntax, at least 1ms, millisecond precision', (t) => {
  t.is(parseDuration('1s'), 1e9);
  t.is(parseDuration('1.5s'), 1.5e9);
  t.is(parseDuration('1h30m'), 5400e9);
  t.is(parseDuration('100ms'), 1e8);
  t.is(parseDuration('10'), undefined);
  t.is(durationError('1ms'), undefined);
  t.regex(durationError('999us') ?? '', /greater than 1ms/);
  t.regex(durationError('-1s') ?? '', /greater than 1ms/);
  t.regex(durationError('1.0001s') ?? '', /ms precision/);
  t.regex(durationError('ten seconds') ?? '', /invalid duration/);
  t.is(durationError('0s', { allowZero: true }), undefined);
});

const hosts: [string, boolean][] = [
  ['reviews', true],
  ['reviews.default.svc.cluster.local', true],
  ['*.example.com', true],
  ['*', true],
  ['*foo.example.com', true], // wildcard prefix of the first label is allowed here (partial wildcard is a separate check)
  ['foo.*.com', false],
  ['foo.example.*', false],
  ['-bad.example.com', false],
  ['a..b', false],
  ['example.123', false],
  ['istio.io.', true],
  ['', false],
];
for (const [h, ok] of hosts) {
  test(`wildcard domain ${JSON.stringify(h)} is ${ok ? 'valid' : 'invalid'}`, (t) => {
    t.is(wildcardDomainError(h) === undefined, ok, wildcardDomainError(h));
  });
}

test('namespace/host entries for Sidecar and Gateway', (t) => {
  t.is(namespaceSlashHostError('./*', false), undefined);
  t.is(namespaceSlashHostError('*/foo.example.com', false), undefined);
  t.is(namespaceSlashHostError('~/*', false), undefined);
  t.regex(namespaceSlashHostError('~/*', true) ?? '', /invalid namespace value "~" in gateway/);
  t.regex(namespaceSlashHostError('foo.example.com', false) ?? '', /namespace\/dnsName/);
  t.is(namespaceSlashHostError('foo.example.com', true), undefined);
  t.is(namespaceSlashHostError('10.1.2.3', true), undefined);
  t.regex(namespaceSlashHostError('ns/foo', true) ?? '', /short names/);
});

test('IPs and CIDR blocks', (t) => {
  t.is(ipSubnetError('10.0.0.1'), undefined);
  t.is(ipSubnetError('10.0.0.0/8'), undefined);
  t.is(ipSubnetError('2001:db8::/32'), undefined);
  t.regex(ipSubnetError('10.0.0.0/33') ?? '', /not a valid CIDR/);
  t.regex(ipSubnetError('10.0.0.0/8/8') ?? '', /not a valid IP/);
  t.regex(ipSubnetError('example.com') ?? '', /not a valid IP/);
});

test('RE2: look-arounds and back-references are refused with a clear reason; valid patterns pass', (t) => {
  t.is(regexError('^/api/v[0-9]+/.*$'), undefined);
  t.is(regexError('(?i)^/API'), undefined); // RE2 inline flags, which JavaScript lacks
  t.is(regexError('(?P<ver>v[0-9])'), undefined);
  t.regex(regexError('foo(?=bar)') ?? '', /look-around/);
  t.regex(regexError('(?<!x)y') ?? '', /look-around/);
  t.regex(regexError('(a)\\1') ?? '', /back-references/);
  t.is(regexError('a\\\\1'), undefined); // an escaped backslash followed by 1
  t.regex(regexError('(unclosed') ?? '', /missing \)/);
  t.regex(regexError('x'.repeat(1025)) ?? '', /too large/);
});

test('host matching follows Istio host.Name', (t) => {
  t.true(hostsMatch('*.example.com', 'a.example.com'));
  t.true(hostsMatch('*', 'anything.com'));
  t.false(hostsMatch('a.example.com', 'b.example.com'));
  t.true(hostSubsetOf('a.example.com', '*.example.com'));
  t.true(hostSubsetOf('*.a.example.com', '*.example.com'));
  t.false(hostSubsetOf('*.example.com', 'a.example.com'));
});

test('header values follow Envoy formatter rules', (t) => {
  t.is(headerValueError('100%%'), undefined);
  t.is(headerValueError('%HOSTNAME%'), undefined);
  t.regex(headerValueError('abc%123') ?? '', /unterminated/);
  t.regex(headerValueError('a\nb') ?? '', /control characters/);
});

test('diagnostic codes are unique across the schema and rules layers and documented', async (t) => {
  const { SCHEMA_CODES } = await import('../../../../src/validate/schema.js');
  const { RULE_CODES } = await import('../../../../src/validate/rules/codes.js');
  const all = [...Object.values(SCHEMA_CODES), ...Object.values(RULE_CODES)];
  t.is(new Set(all.map((c) => c.code)).size, all.length);
  t.is(new Set(all.map((c) => c.name)).size, all.length);
  for (const c of all) {
    t.regex(c.code, /^MCD0[12]\d\d$/);
    t.true(c.meaning.length > 20, c.code);
  }
});
