// The table of Istio's CRD CEL rules (test/fixtures/validate-rules/cel/rules.yaml):
// for each rule a document that passes and one that fails, with the errors the
// API server gives. Read by the unit test (meshcd's evaluator) and by the
// interop test (a real kube-apiserver with Istio's CRDs).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface CelCase {
  rule: string;
  note?: string;
  apiVersion: string;
  kind: string;
  pass: Record<string, unknown>;
  fail: Record<string, unknown>;
  errors: string[];
}

export const CEL_CASES = parseYaml(readFileSync(join(process.cwd(), 'test', 'fixtures', 'validate-rules', 'cel', 'rules.yaml'), 'utf8')) as CelCase[];
