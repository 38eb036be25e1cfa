// TokenReview through a kubeconfig: the API server URL and meshcd's own TLS
// and auth settings from @kubernetes/client-node's KubeConfig (token, client
// certificate, exec plugin…), handed to src/ca's TokenReviewAuthenticator,
// which knows only node:https.

import type { RequestOptions } from 'node:https';
import type * as k8s from '@kubernetes/client-node';
import { TokenReviewAuthenticator, type TokenReviewOptions } from '../ca/tokenreview.js';

export function tokenReviewOptions(kc: k8s.KubeConfig, audiences: readonly string[]): TokenReviewOptions {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  return {
    server: cluster.server,
    audiences: [...audiences],
    requestOptions: async () => {
      const o: RequestOptions = {};
      await kc.applyToHTTPSOptions(o);
      return o;
    },
  };
}

export function tokenReviewAuthenticator(kc: k8s.KubeConfig, audiences: readonly string[]): TokenReviewAuthenticator {
  return new TokenReviewAuthenticator(tokenReviewOptions(kc, audiences));
}
