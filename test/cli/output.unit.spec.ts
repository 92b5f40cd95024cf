/**
 * What the CLI writes: human lines with every control character escaped, JSON that means the same
 * and is terminal-safe, and report files that never overwrite a store or an existing file by
 * accident.
 */
import { lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import { Output, ReportRefused, jsonText, table, terminalSafe, writeReportFile, type CliIo } from '../../src/cli/output.js';
import { tempDir } from './opx-cli.js';
import { HOSTILE, UNSAFE } from './support/hostile.js';

class MemoryIo implements CliIo {
  out = '';
  err = '';
  readonly stdout = { write: (s: string) => ((this.out += s), true) } as unknown as CliIo['stdout'];
  readonly stderr = { write: (s: string) => ((this.err += s), true) } as unknown as CliIo['stderr'];
}

describe('CLI output', () => {
  describe(terminalSafe.name, () => {
    for (const [name, text] of Object.entries(HOSTILE)) {
      it(`escapes ${name} so nothing in it acts on a terminal`, () => {
        const safe = terminalSafe(text);
        expect(safe).not.to.match(UNSAFE);
        expect(safe).not.to.include('\n');
        expect(safe.length).to.be.greaterThan(text.length);
      });
    }

    it('shows what was there: ESC as \\x1b, CR as \\r, a newline as \\n, C1 and bidi controls by code', () => {
      expect(terminalSafe(HOSTILE.osc)).to.equal('title\\x1b]0;pwned\\x07end');
      expect(terminalSafe(HOSTILE.cr)).to.equal('real\\roverwritten');
      expect(terminalSafe(HOSTILE.newline)).to.equal('one\\nforged line');
      expect(terminalSafe(HOSTILE.c1csi)).to.equal('c1\\x9b2Jcleared');
      expect(terminalSafe(HOSTILE.bidi)).to.equal('abc\\u{202e}txt.exe');
    });

    it('leaves ordinary text, unicode included, as it is, and is idempotent', () => {
      const text = 'checkout-api: p99 > 2 s (région eu-west-1, 東京) ✓';
      expect(terminalSafe(text)).to.equal(text);
      const once = terminalSafe(Object.values(HOSTILE).join(' '));
      expect(terminalSafe(once)).to.equal(once);
    });
  });

  describe(Output.name, () => {
    it('escapes every human line and every note', () => {
      const io = new MemoryIo();
      const output = new Output(io, false);
      output.result({}, () => Object.values(HOSTILE));
      output.note(HOSTILE.osc);
      expect(io.out.split('\n').filter((l) => l !== '')).to.have.length(Object.keys(HOSTILE).length); // no line forged
      expect(io.out).not.to.match(UNSAFE);
      expect(io.err).not.to.match(UNSAFE);
    });

    it('writes JSON that parses back to the same value, with DEL, C1 and bidi controls as \\u escapes', () => {
      const io = new MemoryIo();
      new Output(io, true).result({ ...HOSTILE, n: 1n }, () => []);
      expect(io.out.trimEnd()).not.to.match(UNSAFE);
      expect(io.out.trimEnd().split('\n')).to.have.length(1);
      expect(JSON.parse(io.out)).to.deep.equal({ ...HOSTILE, n: '1' });
      expect(jsonText('\u009b')).to.equal('"\\u009b"');
    });
  });

  describe(table.name, () => {
    it('escapes cells before measuring them, so columns stay aligned', () => {
      const lines = table(['A', 'B'], [[HOSTILE.csi, 'x'], ['plain', 'y']]);
      expect(lines.join('\n')).not.to.match(UNSAFE);
      const column = (line: string): number => line.lastIndexOf(' ') + 1;
      expect(column(lines[1] as string)).to.equal(column(lines[2] as string));
    });
  });

  describe(writeReportFile.name, () => {
    const dir = tempDir('report');

    it('writes a new file, private to the user, and leaves no temporary file', () => {
      const path = join(dir, 'new.json');
      writeReportFile(path, '{"a":1}\n', { force: false });
      expect(readFileSync(path, 'utf8')).to.equal('{"a":1}\n');
      expect(statSync(path).mode & 0o777).to.equal(0o600);
      expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).to.deep.equal([]);
    });

    it('refuses an existing file without --force (left as it was), overwrites it with --force', () => {
      const path = join(dir, 'existing.json');
      writeFileSync(path, 'keep me');
      expect(() => writeReportFile(path, 'report', { force: false })).to.throw(ReportRefused, '--force');
      expect(readFileSync(path, 'utf8')).to.equal('keep me');
      writeReportFile(path, 'report', { force: true });
      expect(readFileSync(path, 'utf8')).to.equal('report');
    });

    it("refuses, even with --force, a store's file, any file in a data dir, a link to a store file, and any SQLite database", () => {
      const data = join(dir, 'data');
      mkdirSync(data);
      const store = join(data, 'opx-store.sqlite');
      const database = 'SQLite format 3\u0000 and the rest of a database';
      writeFileSync(store, database);
      const elsewhere = join(dir, 'copy.db');
      writeFileSync(elsewhere, database);
      const link = join(dir, 'innocent.json');
      symlinkSync(store, link);
      for (const target of [store, join(data, 'opx-store.sqlite-wal'), join(data, 'report.json'), link, elsewhere]) {
        for (const force of [false, true]) expect(() => writeReportFile(target, 'report', { force }), `${target} force=${force}`).to.throw(ReportRefused, 'never overwrites a store');
      }
      expect(readFileSync(store, 'utf8')).to.equal(database);
      expect(readFileSync(elsewhere, 'utf8')).to.equal(database);
      expect(lstatSync(link).isSymbolicLink()).to.equal(true);
      expect(readdirSync(data)).to.deep.equal(['opx-store.sqlite']);
    });

    it('refuses a directory', () => {
      expect(() => writeReportFile(dir, 'report', { force: true })).to.throw(ReportRefused, 'is a directory');
    });
  });
});
