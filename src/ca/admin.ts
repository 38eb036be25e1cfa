// CA views on the admin server (port 15014): status for people and scripts,
// and the trust bundle for anything that needs the mesh roots over HTTP.
// Read-only: rotation stays a deliberate CLI action (`meshcd ca rotate`).

import { json, text, type AdminServer } from '../admin/server.js';
import type { CertificateAuthority } from './authority.js';

export function registerCaAdminRoutes(admin: AdminServer, ca: CertificateAuthority): void {
  admin.route('GET', '/debug/ca', () => json(200, ca.status()));
  admin.route('GET', '/ca/trust-bundle.pem', () => ({ ...text(200, ca.trustBundle().rootsPem.join('')), headers: { 'content-type': 'application/x-pem-file' } }));
}
