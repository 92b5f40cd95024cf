import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { makeLocalCertificates, writeLocalCertificates } from '../../src/esdb-server/auth/certificates.js';
import { ADMINS, UserStore } from '../../src/esdb-server/auth/users.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** An embedded server as an operator secures it: a CA's certificate on disk, users with passwords. */
export interface SecureStore {
  readonly server: EmbeddedServer;
  readonly caFile: string;
  readonly admin: Credentials;
  /** `esdb://user:pass@localhost:PORT?tls=true&tlsCAFile=CA` (no credentials when `user` is null). */
  connectionString(user?: Credentials | null): string;
  close(): Promise<void>;
}

export async function startSecureStore(options: { readonly users?: ReadonlyArray<Credentials & { readonly groups: readonly string[] }> } = {}): Promise<SecureStore> {
  const dir = mkdtempSync(join(tmpdir(), 'opx-secure-'));
  const files = writeLocalCertificates(dir, makeLocalCertificates({ now: new Date(), validDays: 2 }));
  const admin = { username: 'admin', password: 'admin-password-for-tests' };
  const users = new UserStore();
  users.add(admin.username, admin.password, [ADMINS]);
  for (const user of options.users ?? []) users.add(user.username, user.password, user.groups);
  const server = await startEmbeddedServer({ tls: { certFile: files.certFile, keyFile: files.keyFile }, users });
  return {
    server,
    caFile: files.caFile,
    admin,
    connectionString: (user: Credentials | null = admin) =>
      `esdb://${user === null ? '' : `${encodeURIComponent(user.username)}:${encodeURIComponent(user.password)}@`}localhost:${server.port}?tls=true&tlsCAFile=${encodeURIComponent(files.caFile)}`,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
