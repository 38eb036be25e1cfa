// The seams inside rollout/: the Rollout spec as users write it (the field
// names are the contract of issue 8), and the two pieces of I/O the runner
// drives through narrow interfaces: analysis (Prometheus) and Git
// write-back. The state machine (pure) and the runner (thin) are built on
// these; the analysis and write-back modules implement them.
// Imports: src/api (types only).

import type { Diagnostic } from '../api/types.js';

// ---------------------------------------------------------------------------
// The spec (meshcd.io/v1alpha1 Rollout .spec), after parsing and defaulting.

export interface HttpMatchSpec {
  /** Istio HTTPMatchRequest fields, as written (headers, uri, queryParams…). */
  [field: string]: unknown;
}

export type RolloutStep =
  | { setWeight: number }
  | { pause: { duration?: string } }
  | { setHeaderRoute: { match: HttpMatchSpec[] } }
  | { setMirror: { percent: number } }
  | { analysis: { metrics: string[] } }
  | { setProxies: { count?: number; percent?: number } };

export interface ThresholdRange {
  min?: number;
  max?: number;
}

/** The built-in metric templates (implemented by rollout/analysis; validation checks names against this list). */
export const BUILTIN_TEMPLATES = ['request-success-rate', 'request-duration-p99'] as const;

export interface MetricSpec {
  name: string;
  /** A built-in template (`request-success-rate`, `request-duration-p99`, …) or … */
  template?: string;
  /** … a PromQL query with `{{ … }}` arguments. Exactly one of the two. */
  query?: string;
  /** The value (or, with `compare`, the canary's value) must lie in this range. */
  thresholdRange?: ThresholdRange;
  /** Compare the new version with the old: the same query run for the stable side (traffic), or for the proxies outside the cohort (`rest`, strategy: proxies). */
  compare?: 'stable' | 'rest';
  /** With compare: canary − stable must be ≤ maxDelta. */
  maxDelta?: number;
  /** With compare: canary / stable must be ≤ maxRatio. */
  maxRatio?: number;
}

export interface AnalysisSpec {
  /** Go-style duration (`10s`, `1m`); default 1m. */
  interval: string;
  failureLimit: number;
  inconclusiveLimit: number;
  consecutiveErrorLimit: number;
  prometheus?: { address: string };
  metrics: MetricSpec[];
}

export type WebhookType = 'pre-rollout' | 'rollout' | 'confirm-promotion' | 'post-rollout' | 'rollback' | 'event';

export interface WebhookSpec {
  name: string;
  type: WebhookType;
  url: string;
  /** Go-style duration; default 10s. */
  timeout?: string;
  metadata?: Record<string, string>;
}

export interface RolloutSpec {
  /** traffic: walk route weights; proxies: a config canary (cohorts of proxies get the new revision). */
  strategy?: 'traffic' | 'proxies';
  /** traffic: the VirtualService (and route); proxies: the kinds and namespaces whose changes the canary covers ('' for virtualService). */
  target: { virtualService: string; route?: string; kinds?: string[]; namespaces?: string[] };
  /** proxies: which proxies may be in a cohort. */
  cohort?: { namespaces?: string[]; labels?: Record<string, string>; localities?: { region?: string; zone?: string; subzone?: string }[] };
  steps: RolloutStep[];
  analysis?: AnalysisSpec;
  writeBack: 'revert' | 'branch' | 'none';
  webhooks: WebhookSpec[];
}

// ---------------------------------------------------------------------------
// Analysis: one measurement of one metric.

export type Verdict = 'success' | 'failure' | 'inconclusive' | 'error';

export interface Measurement {
  metric: string;
  /** ms since epoch. */
  at: number;
  /** The canary's value (undefined when there was no data or the query failed). */
  value?: number;
  /** With compare: stable: the stable side's value. */
  stableValue?: number;
  verdict: Verdict;
  /** Why: the threshold passed, "no samples", "NaN", the Prometheus error (never a credential). */
  message?: string;
  /** The query as sent (for status and the dashboard). */
  query?: string;
}

/** Template arguments: `{{ namespace }}`, `{{ canary.version }}`, … */
export interface TemplateArgs {
  namespace: string;
  service: string;
  interval: string;
  stable: { host: string; subset?: string; version?: string; pods?: string[] };
  /** For a config canary: `pods` are the cohort's (canary) and the rest's (stable) pod names; host is ''. */
  canary: { host: string; subset?: string; version?: string; pods?: string[] };
}

export interface AnalysisProvider {
  /** Run the metric's query (both sides with compare) and judge it. Never throws: failures are `error` measurements. */
  measure(metric: MetricSpec, args: TemplateArgs, prometheusAddress: string, now: number): Promise<Measurement>;
}

// ---------------------------------------------------------------------------
// Git write-back after a rollback: make Git state what runs.

export interface WriteBackRequest {
  mode: 'revert' | 'branch';
  /** The Rollout `namespace/name`, for the fallback branch name `meshcd/rollback/<namespace>-<name>-<shortsha>`. */
  rollout?: string;
  /** Source name (its clone is `<stateDir>/sources/<name>.git`, its credentials from its SourceSpec). */
  source: string;
  /** The commit whose change is being undone, and the commit that ran before it. */
  badCommit: string;
  goodCommit: string;
  /** Files (relative to the repository root) whose change the revert undoes; others are left as the branch has them. */
  paths: string[];
  /** Rollout namespace/name, failed metric and values seen: goes into the commit message. */
  message: string;
  author: { name: string; email: string };
  /** ms since epoch, for the commit timestamp. */
  now: number;
}

export type WriteBackResult =
  | { kind: 'reverted'; commit: string; branch: string }
  | { kind: 'branch'; branch: string; commit: string; reason?: string }
  /** `notGit`: the source cannot be written back at all (a folder): no branch is tried, and the source, not Git, still states the change. */
  | { kind: 'failed'; error: string; notGit?: boolean };

export interface WriteBack {
  apply(req: WriteBackRequest): Promise<WriteBackResult>;
}

/** Validation findings for Rollout resources use Diagnostic (MCD03xx codes). */
export type RolloutDiagnostic = Diagnostic;
