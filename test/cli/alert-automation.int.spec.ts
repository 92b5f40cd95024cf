/**
 * The alert automation as a user runs it: the bundled config with ALERT_AUTOMATION granted (as
 * docs/configuration.md shows), Alertmanager bodies through `opx signals ingest`, `opx process`,
 * a person's acknowledgement, then the replay audit.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { at, webhook } from '../auto-resolution/support/alert-world.js';
import { opx } from './opx-cli.js';

const CONFIG = fileURLToPath(new URL('../../../config', import.meta.url));
const THREE = [
  { instance: 'a', started: 0 },
  { instance: 'b', started: 10 },
  { instance: 'c', started: 20 },
];

describe('opx with the alert automation granted', function () {
  this.timeout(120_000);

  for (const granted of [true, false]) {
    it(granted ? 'process resolves an acknowledged incident when its last alert resolves; the replay audit re-derives it IDENTICAL' : 'without the grant (the bundled matrix) the incident stays acknowledged, and explain says every alert resolved', async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'opx-automation-'));
      const config = join(cwd, 'config');
      cpSync(CONFIG, config, { recursive: true });
      if (granted) {
        const matrix = JSON.parse(readFileSync(join(config, 'authority-matrix.json'), 'utf8')) as { version: string; grants: Record<string, unknown> };
        matrix.version = '2';
        matrix.grants['ALERT_AUTOMATION'] = { actions: ['RESOLVE_INCIDENT'], principals: ['opx-alert-automation'] };
        writeFileSync(join(config, 'authority-matrix.json'), JSON.stringify(matrix, null, 2));
      }
      const env = { OPX_CONFIG_DIR: config, OPX_PRINCIPALS: join(cwd, 'principals.json') };
      const run = async (args: readonly string[]) => {
        const result = await opx(args, { cwd, env });
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(0);
        return result;
      };
      const token = (await run(['--json', 'principals', 'add', 'bob', '--role', 'ON_CALL_RESPONDER', '--file', env.OPX_PRINCIPALS])).json<{ token: string }>().token;
      writeFileSync(join(cwd, 'firing.jsonl'), `${JSON.stringify(webhook('firing', THREE))}\n`);
      writeFileSync(join(cwd, 'resolved.jsonl'), `${JSON.stringify(webhook('resolved', THREE.map((a) => ({ ...a, ended: 300 }))))}\n`);

      await run(['--json', 'signals', 'ingest', 'firing.jsonl', '--create']);
      await run(['--json', 'process']);
      const [incident] = (await run(['--json', 'incidents', 'list'])).json<{ incidents: Array<{ incidentId: string }> }>().incidents;
      await run(['incidents', 'ack', incident!.incidentId, '--token', token]);
      await run(['--json', 'signals', 'ingest', 'resolved.jsonl']);
      const processed = (await run(['--json', 'process'])).json<{ autoResolution?: { resolved: number } }>();
      const shown = (await run(['--json', 'explain', incident!.incidentId])).json<{ signals: { allResolved: boolean }; incidents: Array<{ state: string; lifecycle: Array<{ authority: { authorityType: string }; changedAt: string }> }> }>();
      const explained = (await run(['explain', incident!.incidentId])).stdout;
      const replay = (await run(['--json', 'replay'])).json<{ verdict: string; autoResolution: { eventsCompared: number } }>();

      expect(shown.signals.allResolved).to.equal(true);
      expect(replay.verdict).to.equal('IDENTICAL');
      if (granted) {
        expect(processed.autoResolution).to.deep.equal({ resolved: 1, superseded: 0 });
        expect(shown.incidents[0]?.state).to.equal('RESOLVED');
        expect(shown.incidents[0]?.lifecycle.map((t) => [t.authority.authorityType, t.changedAt])[1]).to.deep.equal(['ALERT_AUTOMATION', at(300)]);
        expect(replay.autoResolution.eventsCompared).to.equal(1);
        expect(explained).to.include(`incident ${incident!.incidentId}: resolved by the alert automation at ${at(300)}`);
      } else {
        expect(processed.autoResolution).to.equal(undefined);
        expect(shown.incidents[0]?.state).to.equal('ACKNOWLEDGED');
        expect(replay.autoResolution.eventsCompared).to.equal(0);
        expect(explained).to.include(`incident ${incident!.incidentId}: the authority matrix (v1) does not grant ALERT_AUTOMATION RESOLVE_INCIDENT (the default)`);
      }
    });
  }
});
