import { expect } from 'chai';
import { spawnSync } from 'node:child_process';

describe('Start-up', () => {
  it("loads class-validator as its one-file bundle, not the ~320 files of its entry point, in a process that validates every event type", () => {
    // given a fresh process that imports every codec (every schema's decorators) and validates an input
    const codecs = ['../../src/candidates/candidate-codec.js', '../../src/incidents/incident-events.js', '../../src/signals/signal-events.js', '../../src/correlation/correlation-events.js', '../../src/principals/principals.js', '../../src/promotion/policy.js'];
    const validation = new URL('../../src/shared/validation.js', import.meta.url).href;
    const candidateEvents = new URL('../../src/candidates/candidate-events.js', import.meta.url).href;
    const script = `
      import { createRequire } from 'node:module';
      ${codecs.map((path) => `await import(${JSON.stringify(new URL(path, import.meta.url).href)});`).join('\n')}
      const { validateAs } = await import(${JSON.stringify(validation)});
      const { CandidateCreatedSchema } = await import(${JSON.stringify(candidateEvents)});
      let refused = false;
      try { validateAs(CandidateCreatedSchema, {}, 'probe'); } catch { refused = true; }
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((file) => /node_modules\\/(class-validator|validator|libphonenumber-js)\\//.test(file));
      console.log(JSON.stringify({ refused, loaded }));
    `;

    // when it runs
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });

    // then it validated (an empty candidate refused) with class-validator loaded from one file
    expect(run.status, run.stderr).to.equal(0);
    const { refused, loaded } = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as { refused: boolean; loaded: string[] };
    expect(refused).to.equal(true);
    expect(loaded.map((file) => file.slice(file.lastIndexOf('node_modules/')))).to.deep.equal(['node_modules/class-validator/bundles/class-validator.umd.min.js']);
  });
});
