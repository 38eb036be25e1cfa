// The rollout admin API on the admin server (15014):
//   GET  /api/v1/rollouts                              every Rollout's status
//   GET  /api/v1/rollouts/:namespace/:name             one Rollout's status
//   POST /api/v1/rollouts/:namespace/:name/:command    promote|abort|retry|pause|resume (admin token)
// Imports: src/admin, ./runner.ts.

import { json, type AdminServer } from '../admin/server.js';
import type { Command } from './controller.js';
import type { RolloutRunner } from './runner.js';

export const COMMANDS: readonly Command[] = ['promote', 'abort', 'retry', 'pause', 'resume'];

export function registerRolloutRoutes(admin: AdminServer, runner: RolloutRunner): void {
  admin.route('GET', '/api/v1/rollouts', () => json(200, { rollouts: runner.list() }));
  admin.route('GET', '/api/v1/rollouts/:namespace/:name', (req) => {
    const s = runner.status(req.params.namespace!, req.params.name!);
    return s ? json(200, s) : json(404, { error: `no Rollout ${req.params.namespace}/${req.params.name} in the accepted config` });
  });
  for (const command of COMMANDS) {
    admin.route(
      'POST',
      `/api/v1/rollouts/:namespace/:name/${command}`,
      async (req) => {
        const { namespace, name } = req.params as { namespace: string; name: string };
        const r = await runner.command(namespace, name, command);
        if (!r.found) return json(404, { error: `no Rollout ${namespace}/${name} in the accepted config` });
        if (r.rejected) return json(409, { error: r.rejected });
        return json(200, runner.status(namespace, name));
      },
      { auth: 'admin-token' },
    );
  }
}
