/**
 * The package as a host meets it: built, packed with `npm pack`, installed from the tarball into
 * a scratch host (production and peer dependencies only, without the optional better-sqlite3),
 * type-checked under strict settings, and run: test/package/host/main.mts loads the modules into
 * the host's own Inversify container with its own logger, clock and bus, orchestrates a promoted
 * and a deferred candidate, runs the worker in-process against the embedded server, and audits
 * by replay, all through the package root. Then `opx worker` is started from the install, as the
 * container image starts it (see Dockerfile), against an embedded server.
 *
 * Installing uses the npm registry through npm's cache (`--prefer-offline`): after the project's
 * own `npm ci` nearly everything is cached.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { expect } from 'chai';
import semver from 'semver';

import { candidateStreamId } from '../../src/candidates/candidate-events.js';
import { CandidateStore } from '../../src/candidates/candidate-store.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';
import { sharedEmbeddedServer } from '../support/embedded-server.js';
import { CandidateFixtures } from '../core/support/fixtures.js';
import { freePort, ManagedProcess, waitFor } from '../worker/support/cluster.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const HOST_SOURCE = join(REPO, 'test/package/host/main.mts');
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

/** The host's own Inversify: the lowest 8.x the peer range admits (the project itself tests 8.2.3). */
const HOST_INVERSIFY = '8.0.0';

/** A host's strict compiler settings; the project's own @types/node (the host installs production dependencies only). */
const strictHostOptions = (): Record<string, unknown> => ({
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  lib: ['ES2023'],
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitOverride: true,
  noImplicitReturns: true,
  skipLibCheck: false,
  typeRoots: [join(REPO, 'node_modules/@types')],
  types: ['node'],
  outDir: 'out',
});

/** Type-checks (and compiles) a host with the project's TypeScript; the compiler's output is the error. */
const typeCheck = (dir: string): Promise<unknown> =>
  run(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', dir]).catch((error: Error & { stdout?: string }) => {
    throw new Error(`the host at ${dir} does not type-check against the package:\n${error.stdout ?? error.message}`);
  });

interface PackResult {
  readonly filename: string;
  readonly size: number;
  readonly entryCount: number;
  readonly files: ReadonlyArray<{ readonly path: string }>;
}

describe('the package, packed and installed into a host', function () {
  this.timeout(600_000);
  const scratch = mkdtempSync(join(tmpdir(), 'opx-package-'));
  const host = join(scratch, 'host');
  let pack: PackResult;
  let manifest: { engines: { node: string }; peerDependencies: Record<string, string>; dependencies: Record<string, string> };
  const timings: string[] = [];
  const timed = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await work();
    timings.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return result;
  };

  before(async () => {
    await timed('build', () => run('npm', ['run', 'build'], { cwd: REPO }));
    const packed = await timed('pack', () => run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: REPO }));
    pack = (JSON.parse(packed.stdout) as PackResult[])[0]!;
    mkdirSync(join(host, 'src'), { recursive: true });
    writeFileSync(
      join(host, 'package.json'),
      JSON.stringify({
        name: 'opx-host',
        private: true,
        type: 'module',
        dependencies: { '@opx/incident-orchestration': `file:${join(scratch, pack.filename)}`, inversify: HOST_INVERSIFY, 'reflect-metadata': '0.2.2' },
      }),
    );
    await timed('install', () => run('npm', ['install', '--omit=dev', '--omit=optional', ...NPM_FLAGS], { cwd: host }));
    manifest = JSON.parse(readFileSync(join(host, 'node_modules/@opx/incident-orchestration/package.json'), 'utf8')) as typeof manifest;
  });

  after(() => {
    console.log(`      (package test: ${timings.join(', ')}; tarball ${pack?.entryCount} files, ${pack?.size} bytes)`);
    rmSync(scratch, { recursive: true, force: true });
  });

  describe('the tarball', () => {
    it('holds the library build with its declarations, the default config and the docs, and no tests, bench or source maps', () => {
      const paths = pack.files.map((f) => f.path);

      expect(paths).to.include.members(['package.json', 'README.md', 'CHANGELOG.md', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli/main.js', 'config/authority-matrix.json', 'config/correlation-rules.json', 'dist/lib/console/assets/console.js', 'dist/lib/console/assets/console.css', 'dist/lib/console/assets/icon.svg']);
      expect(paths.filter((p) => p.startsWith('config/policies/'))).to.have.length.greaterThan(0);
      const unexpected = paths.filter((p) => !/^(dist\/lib\/.+\.(js|d\.ts)|dist\/lib\/console\/assets\/console\.css|dist\/lib\/console\/assets\/icon\.svg|config\/.+\.json|samples\/signals\.jsonl|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/.test(p));
      expect(unexpected).to.deep.equal([]);
      expect(paths.filter((p) => /(^|\/)(test|bench)\/|\.map$|tsbuildinfo|\.spec\./.test(p))).to.deep.equal([]);
      expect(pack.entryCount).to.be.lessThan(600); // a bound against a whole folder slipping in (the paths above are the real check; ~2 entries per source module, 403 at 0.1.0)
    });

    it('declares engines every required runtime dependency satisfies, and Inversify as a peer an 8.x host satisfies', () => {
      const ours = manifest.engines.node;
      const tooNarrow: string[] = [];
      const walk = (dir: string, seen: Set<string>): void => {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; engines?: { node?: string }; dependencies?: Record<string, string> };
        const range = pkg.engines?.node;
        if (range !== undefined && !semver.subset(ours, range)) tooNarrow.push(`${pkg.name} (${range})`);
        for (const name of Object.keys(pkg.dependencies ?? {})) {
          if (seen.has(name)) continue;
          seen.add(name);
          walk(join(host, 'node_modules', name), seen);
        }
      };
      walk(join(host, 'node_modules/@opx/incident-orchestration'), new Set());

      expect(tooNarrow).to.deep.equal([]);
      expect(manifest.dependencies).to.not.have.any.keys('inversify', 'reflect-metadata', 'better-sqlite3');
      expect(semver.satisfies(HOST_INVERSIFY, manifest.peerDependencies['inversify']!)).to.equal(true);
      expect(semver.satisfies('8.2.2', manifest.peerDependencies['inversify']!)).to.equal(true);
    });
  });

  describe('a host (ESM, TypeScript strict, its own Inversify container)', () => {
    let output: Record<string, Record<string, unknown>>;

    before(async () => {
      copyFileSync(HOST_SOURCE, join(host, 'src/main.mts'));
      writeFileSync(join(host, 'tsconfig.json'), JSON.stringify({ compilerOptions: strictHostOptions(), include: ['src'] }));
      await timed('host type-check', () => typeCheck(host));
      const { stdout } = await timed('host run', () => run(process.execPath, [join(host, 'out/main.mjs')], { cwd: host, env: { ...process.env, OPX_LOG_LEVEL: 'silent' } }));
      output = JSON.parse(stdout.trim().split('\n').at(-1)!) as typeof output;
      timings.push(`(in the host: ${JSON.stringify(output['ms'])} ms)`);
    });

    it("orchestrates a promoted and a deferred candidate through the handlers, with the host's bus, logger and clock", () => {
      expect(output['inProcess']).to.deep.include({
        busEvents: ['IncidentCreated:cand-host-promoted', 'CandidateDeferred:cand-host-deferred'],
        heard: ['cand-host-deferred'],
        logged: true,
        attemptStartedAt: ['2031-05-04T03:02:01.000Z'],
        greeting: 'hello',
      });
    });

    it('refuses the wall clock as a decision time, and the replay audit of what it did is IDENTICAL', () => {
      expect(output['inProcess']).to.deep.include({ refused: 'opx.orchestration.not_the_recorded_input', replay: 'IDENTICAL' });
    });

    it('runs the worker module in-process against the embedded server and stops it cleanly', () => {
      expect(output['worker']).to.deep.include({ stateWhileRunning: 'subscribed', stateAfterStop: 'stopped', replay: 'IDENTICAL' });
      expect(output['worker']?.['incidentId']).to.be.a('string');
    });

    it('names better-sqlite3 when a data dir is asked for without it, and exports only the package root', () => {
      expect(output['withoutSqlite']).to.deep.equal({ dataDir: 'opx.dependency.missing: better-sqlite3' });
      expect(output['deepImport']).to.equal('ERR_PACKAGE_PATH_NOT_EXPORTED');
    });
  });

  describe('a CommonJS host (TypeScript strict, require(esm))', () => {
    it('type-checks and loads the package with require(), and orchestrates through it', async () => {
      const cjs = join(scratch, 'cjs-host');
      mkdirSync(join(cjs, 'src'), { recursive: true });
      // The same installed packages, seen from a CommonJS package beside them.
      writeFileSync(join(cjs, 'package.json'), JSON.stringify({ name: 'opx-cjs-host', private: true, type: 'commonjs' }));
      symlinkSync(join(host, 'node_modules'), join(cjs, 'node_modules'), 'dir');
      copyFileSync(join(REPO, 'test/package/host/main.cts'), join(cjs, 'src/main.cts'));
      writeFileSync(join(cjs, 'tsconfig.json'), JSON.stringify({ compilerOptions: strictHostOptions(), include: ['src'] }));
      await timed('CommonJS host type-check', () => typeCheck(cjs));

      const { stdout } = await run(process.execPath, [join(cjs, 'out/main.cjs')], { cwd: cjs, env: { ...process.env, OPX_LOG_LEVEL: 'silent' } });

      expect(readFileSync(join(cjs, 'out/main.cjs'), 'utf8')).to.match(/require\("@opx\/incident-orchestration"\)/);
      expect(JSON.parse(stdout.trim())).to.deep.equal({ moduleSystem: 'commonjs', heard: ['IncidentCreated:cand-cjs-host'], replay: 'IDENTICAL' });
    });
  });

  describe('the command line from a production install (what the container image runs)', () => {
    it('starts `opx worker` against an embedded server: /healthz answers, a candidate is decided, SIGTERM exits 0', async () => {
      const server = await sharedEmbeddedServer();
      const httpPort = await freePort();
      const opx = join(host, 'node_modules/@opx/incident-orchestration/dist/lib/cli/main.js');
      const worker = new ManagedProcess('opx worker', [opx, '--connection', server.connectionString, 'worker', '--http-port', String(httpPort), '--group', `opx-package-${process.pid}`], { OPX_LOG_LEVEL: 'warn' });
      const store = EsdbEventStore.fromConnectionString(server.connectionString);
      try {
        const health = await waitFor(
          async () => {
            const response = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
            return response.status === 200 ? ((await response.json()) as { status: string; state: string }) : undefined;
          },
          { timeoutMs: 30_000, description: `/healthz of opx worker (stderr: ${worker.stderr().slice(-500)})` },
        );
        expect(health).to.deep.include({ status: 'ok' });
        const candidate = CandidateFixtures.withId(`cand-package-${process.pid}-${Date.now()}`);
        await new CandidateStore(store).create(candidate);

        const types = await waitFor(
          async () => {
            const seen: string[] = [];
            for await (const e of store.readStream(candidateStreamId(candidate.candidateId))) seen.push(e.type);
            return seen.includes('IncidentCreated') ? seen : undefined;
          },
          { timeoutMs: 30_000, description: 'the worker to orchestrate the candidate' },
        );
        expect(types).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
        expect(await worker.kill('SIGTERM')).to.equal(0);
      } finally {
        await worker.kill('SIGKILL');
        await store.close();
      }
    });

    it('is the install the Dockerfile makes and runs: same npm flags, its entry point, a non-root user, a /healthz check', () => {
      const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
      const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
      const installDir = /^WORKDIR (.+)$/m.exec(dockerfile.slice(dockerfile.indexOf('AS install')))?.[1];

      expect(dockerfile).to.match(/^RUN npm install --omit=dev .*\*\.tgz/m);
      expect(installDir).to.equal('/opt/opx');
      expect(entrypoint[0]).to.equal('node');
      expect(existsSync(join(host, entrypoint[1]!.replace('/opt/opx/', '')))).to.equal(true);
      expect(/^USER (.+)$/m.exec(dockerfile)?.[1]).to.not.match(/^(root|0)$/);
      expect(dockerfile).to.match(/^HEALTHCHECK .*\n?.*\/healthz/m);
    });

    it('starts `opx serve` (the image\'s default command): /healthz answers, a posted alert is recorded and correlated into a candidate, SIGTERM exits 0', async () => {
      const server = await sharedEmbeddedServer();
      const opx = join(host, 'node_modules/@opx/incident-orchestration/dist/lib/cli/main.js');
      const token = `opx_package-test-${process.pid}-${'x'.repeat(20)}`;
      const port = await freePort();
      const serve = new ManagedProcess('opx serve', [opx, '--connection', server.connectionString, 'serve', '--port', String(port), '--no-orchestration'], { OPX_LOG_LEVEL: 'warn', OPX_INGEST_TOKEN: token });
      const store = EsdbEventStore.fromConnectionString(server.connectionString);
      try {
        await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200 ? true : undefined), { timeoutMs: 30_000, description: `/healthz of opx serve (stderr: ${serve.stderr().slice(-500)})` });
        const fingerprint = `package-${process.pid}-${Date.now()}`;
        const alert = { status: 'firing', labels: { alertname: 'PackageTest', service: 'checkout', severity: 'critical' }, annotations: {}, startsAt: new Date().toISOString(), fingerprint };
        const posted = await fetch(`http://127.0.0.1:${port}/api/v1/alerts/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ version: '4', alerts: [alert] }) });
        expect(posted.status).to.equal(200);
        const opened = await waitFor(
          async () => {
            for await (const e of store.readAll({ streamPrefixes: ['correlation-grp-'] })) if ((e.data as { fingerprint?: string }).fingerprint === fingerprint) return (e.data as { outcome: string }).outcome;
            return undefined;
          },
          { timeoutMs: 30_000, description: 'the receiver process to correlate the posted alert' },
        );
        expect(opened).to.equal('opened');
        expect(await serve.kill('SIGTERM')).to.equal(0);
      } finally {
        await serve.kill('SIGKILL');
        await store.close();
      }
    });
  });
});
