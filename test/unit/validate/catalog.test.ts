// Every diagnostic code has documentation (issue 10): docs/codes/README.md is
// generated from src/validate/catalog.ts (UPDATE_GOLDEN=1 rewrites it), every
// code written anywhere in src/ has an entry and an anchor, every analyzer
// names its Istio counterpart or says "meshcd only", and SARIF rules link to
// their anchor with helpUri.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { codeCatalog, helpUri, renderCodesPage } from '../../../src/validate/catalog.js';
import { ISTIO_API_VERSION } from '../../../src/validate/schema/istio.js';
import { analyzerCodes } from '../../../src/validate/analyzers/index.js';
import { formatSarif } from '../../../src/validate/report.js';

const PAGE = 'docs/codes/README.md';

test('docs/codes/README.md is what the catalogue renders', (t) => {
  const page = renderCodesPage(ISTIO_API_VERSION);
  if (process.env.UPDATE_GOLDEN || !existsSync(PAGE)) {
    writeFileSync(PAGE, page);
    t.pass();
    return;
  }
  t.true(readFileSync(PAGE, 'utf8') === page, `${PAGE} is stale: regenerate with UPDATE_GOLDEN=1 npx ava dist/test/unit/validate/catalog.test.js`);
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const f = join(dir, e);
    return statSync(f).isDirectory() ? sourceFiles(f) : f.endsWith('.ts') && !f.endsWith('.gen.ts') ? [f] : [];
  });
}

test('every code written in src/ is in the catalogue and has an anchor on the page', (t) => {
  const known = new Set(codeCatalog().map((c) => c.code));
  const page = readFileSync(PAGE, 'utf8');
  const found = new Set<string>();
  for (const f of sourceFiles('src')) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (/^\s*(\/\/|\*|\/\*)/.test(line)) continue; // comments may show examples
      for (const m of line.matchAll(/['"`](MCD\d{4}|IST\d{4})['"`]/g)) found.add(m[1]!);
    }
  }
  t.true(found.size > 60, `found ${found.size} codes`);
  const missing = [...found].filter((c) => !known.has(c)).sort();
  t.deepEqual(missing, [], 'codes without documentation');
  for (const c of known) if (!c.startsWith('POL-')) t.true(page.includes(`<a id="${c.toLowerCase()}"></a>`), `anchor for ${c}`);
});

test('every analyzer code names its Istio counterpart or says meshcd only', (t) => {
  const docs = new Map(codeCatalog().map((c) => [c.code, c]));
  for (const a of analyzerCodes()) {
    const d = docs.get(a.code)!;
    if (a.code.startsWith('IST')) t.is(d.istio, `\`istioctl analyze\` ${a.code} ${a.name}`);
    else t.is(d.istio, 'meshcd only', a.code);
  }
  for (const d of codeCatalog()) if (d.stricter) t.not(d.layer, 'schema', `${d.code}: a stricter check says why`);
});

test('SARIF rules carry helpUri to their anchor', (t) => {
  const sarif = formatSarif({ revision: 'r', source: '.', resources: 1, files: 1, diagnostics: [{ code: 'MCD0230', severity: 'warning', message: 'm', origin: { file: 'a.yaml', line: 3 } }] }, { toolVersion: '0' }) as {
    runs: { tool: { driver: { rules: { id: string; helpUri: string }[] } } }[];
  };
  const rules = sarif.runs[0]!.tool.driver.rules;
  t.true(rules.length > 80);
  for (const r of rules) t.is(r.helpUri, helpUri(r.id));
  t.is(helpUri('MCD0230'), 'https://github.com/meshcd/meshcd/blob/main/docs/codes/README.md#mcd0230');
});

// Istio's level for each IST code meshcd reports, from pkg/config/analysis/msg/messages.yaml
// at ISTIO_SOURCE_VERSION ("retired": listed there as RETIRED).
const ISTIO_LEVELS: Record<string, string> = {
  IST0001: 'error', IST0002: 'warning', IST0101: 'error', IST0109: 'error', IST0110: 'error', IST0111: 'error', IST0112: 'error', IST0113: 'retired', IST0149: 'error',
  IST0118: 'info', IST0127: 'warning', IST0128: 'warning', IST0129: 'warning', IST0130: 'warning', IST0131: 'info', IST0132: 'warning', IST0134: 'warning',
  IST0138: 'warning', IST0145: 'error', IST0150: 'warning', IST0161: 'error', IST0162: 'warning', IST0165: 'warning', IST0171: 'warning', IST0173: 'error', IST0174: 'warning', IST0177: 'warning',
};

test("every IST code has Istio's severity, or its page says why not (a retired code only as a warning)", (t) => {
  const ist = codeCatalog().filter((c) => c.code.startsWith('IST'));
  t.deepEqual(ist.map((c) => c.code).sort(), Object.keys(ISTIO_LEVELS).sort(), 'the table above lists every IST code meshcd reports');
  for (const c of ist) {
    const level = ISTIO_LEVELS[c.code];
    if (level === 'retired') t.true(c.severity !== 'error' && /retired/i.test(c.stricter ?? ''), `${c.code}: Istio retired it, so a warning that says so`);
    else if (c.severity !== level) t.truthy(c.differs, `${c.code}: ${c.severity} here, ${level} in Istio, and the page does not say why`);
  }
});
