// Shared by the runner tests (runner, one-canary, canary-restart,
// canary-connect, cluster/follower-revision): the resources they walk out
// and a polling wait.

import type { ExecutionContext } from 'ava';

/** The reviews VirtualService splitting route `primary` v1/v2 by the given weights. */
export const vs = (v1: number, v2: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - name: primary
    route:
    - {destination: {host: reviews, subset: v1}, weight: ${v1}}
    - {destination: {host: reviews, subset: v2}, weight: ${v2}}
`;

/** The ratings DestinationRule with a load balancer (a change every proxy kind sees as config). */
export const dr = (lb: string, host = 'ratings') => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: shop}
spec:
  host: ${host}
  trafficPolicy: {loadBalancer: {simple: ${lb}}}
`;

/** One proxy first, a pause until promoted, then every proxy. */
export const STEPS = '  - setProxies: {count: 1}\n  - pause: {}\n  - setProxies: {percent: 100}\n';

/** A config canary (strategy: proxies) in namespace shop covering one kind. */
export const canary = (name: string, kind: string, steps = STEPS) => `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: ${name}, namespace: shop}
spec:
  strategy: proxies
  target: {kinds: [${kind}]}
  steps:
${steps}`;

/** Polls `cond` every 10 ms; fails the test after `max` tries. */
export async function until(t: ExecutionContext, what: string, cond: () => boolean | Promise<boolean>, max = 500): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  t.fail(`timed out waiting for: ${what}`);
}
