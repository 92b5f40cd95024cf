import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import { auditRoutes, type AuditService } from '../operators/audit-service.js';
import type { Authenticated, PrincipalDirectory } from '../principals/principals.js';
import type { LiveReadModels } from '../projections/live-read-models.js';
import type { Logger } from '../shared/logger.js';
import { consoleApi, type ConsoleIndex } from './console-api.js';
import { consoleAuthenticate, consoleRoutes } from './console-routes.js';
import { SessionStore, type SessionOptions } from './sessions.js';

export interface OperatorConsoleDeps {
  readonly readModels: LiveReadModels;
  readonly index: ConsoleIndex;
  readonly audits: AuditService;
  readonly principals: PrincipalDirectory;
  readonly matrix: AuthorityMatrix;
  /** Served over TLS. */
  readonly secure: boolean;
  readonly logger: Logger;
  readonly sessions?: Omit<SessionOptions, 'secure'>;
  readonly assetsDir?: URL;
}

/**
 * The console as `opx serve` mounts it, in three parts: {@link routes} on the app before any
 * other (the page, its assets, sign-in, and the CSRF guard for every route after it), and
 * {@link authenticate} and {@link extend} given to the operator API (the session cookie as a way
 * to prove a principal; the console's and the audit's routes under the API's authentication).
 */
export class OperatorConsole {
  readonly sessions: SessionStore;
  readonly authenticate: (request: FastifyRequest) => Authenticated | undefined;

  constructor(private readonly deps: OperatorConsoleDeps) {
    this.sessions = new SessionStore({ ...deps.sessions, secure: deps.secure });
    this.authenticate = consoleAuthenticate({ sessions: this.sessions });
  }

  readonly routes = (app: FastifyInstance): Promise<void> =>
    consoleRoutes(app, { sessions: this.sessions, principals: this.deps.principals, secure: this.deps.secure, logger: this.deps.logger, ...(this.deps.assetsDir === undefined ? {} : { assetsDir: this.deps.assetsDir }) });

  readonly extend = async (api: FastifyInstance, who: (request: FastifyRequest) => Authenticated): Promise<void> => {
    await consoleApi(api, { readModels: this.deps.readModels, index: this.deps.index, matrix: this.deps.matrix, who });
    await auditRoutes(api, who, this.deps.audits);
  };
}
