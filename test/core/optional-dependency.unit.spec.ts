import { expect } from 'chai';
import type BetterSqlite3 from 'better-sqlite3';

import { OpxError } from '../../src/shared/errors.js';
import { MissingOptionalDependency, optionalCommonJs } from '../../src/shared/optional-dependency.js';

describe(optionalCommonJs.name, () => {
  it('loads nothing until used, then throws MissingOptionalDependency naming the package and the feature', () => {
    const Missing = optionalCommonJs<new (path: string) => object>('opx-no-such-package', 'A data dir');

    const attempt = (): object => new Missing('x');

    expect(attempt).to.throw(MissingOptionalDependency, "A data dir needs the optional dependency 'opx-no-such-package', which is not installed (npm install opx-no-such-package)");
    try {
      attempt();
    } catch (error) {
      expect(OpxError.hasCode(error, MissingOptionalDependency.code)).to.equal(true);
      expect((error as MissingOptionalDependency).packageName).to.equal('opx-no-such-package');
    }
  });

  it('constructs, calls and reads the installed package as its own export', () => {
    const Database = optionalCommonJs<typeof BetterSqlite3>('better-sqlite3', 'A data dir');

    const db = new Database(':memory:');
    const row = db.prepare('select 40 + 2 as answer').get() as { answer: number };
    db.close();

    expect(row.answer).to.equal(42);
    expect(db).to.be.instanceOf(Database);
    expect(Database.SqliteError).to.be.a('function');
  });
});
