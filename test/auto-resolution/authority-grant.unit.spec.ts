import { expect } from 'chai';

import { alertAutomationAuthority } from '../../src/authority/authority.js';
import { AuthorityMatrix } from '../../src/authority/authority-matrix.js';
import { loadConfig } from '../../src/container/config.js';
import { InvalidInput } from '../../src/shared/errors.js';
import { bundledMatrixDocument } from './support/alert-world.js';

const withGrants = (grants: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
  const doc = bundledMatrixDocument();
  return { ...doc, ...extra, grants: { ...doc.grants, ...grants } };
};
const automation = alertAutomationAuthority('trigger', 'all alerts resolved');

describe('the ALERT_AUTOMATION grant in the authority matrix (CP-8)', () => {
  it('is not granted by the bundled matrix: the automation may not resolve', () => {
    const matrix = loadConfig().authorityMatrix;

    expect(matrix.allows(automation, 'RESOLVE_INCIDENT')).to.equal(false);
    expect(() => matrix.assertAllowed(automation, 'RESOLVE_INCIDENT')).to.throw(/does not grant ALERT_AUTOMATION anything \(the default\)/);
  });

  it('grants RESOLVE_INCIDENT to opx-alert-automation, and nothing else', () => {
    const matrix = AuthorityMatrix.fromDocument(withGrants({ ALERT_AUTOMATION: { actions: ['RESOLVE_INCIDENT'], principals: ['opx-alert-automation'] } }));

    expect(matrix.allows(automation, 'RESOLVE_INCIDENT')).to.equal(true);
    expect(matrix.allows(automation, 'CLOSE_INCIDENT')).to.equal(false);
    expect(matrix.allows({ ...automation, authorityId: 'mallory' }, 'RESOLVE_INCIDENT')).to.equal(false);
  });

  for (const [what, doc, message] of [
    ['a person\'s act (CLOSE_INCIDENT)', withGrants({ ALERT_AUTOMATION: { actions: ['RESOLVE_INCIDENT', 'CLOSE_INCIDENT'], principals: ['opx-alert-automation'] } }), /CLOSE_INCIDENT is a person's act; ALERT_AUTOMATION may only be granted RESOLVE_INCIDENT/],
    ['acknowledging', withGrants({ ALERT_AUTOMATION: { actions: ['ACKNOWLEDGE_INCIDENT'], principals: ['opx-alert-automation'] } }), /ACKNOWLEDGE_INCIDENT is a person's act/],
    ['any principal (*)', withGrants({ ALERT_AUTOMATION: { actions: ['RESOLVE_INCIDENT'], principals: ['*'] } }), /'\*' is not the alert automation; list exactly 'opx-alert-automation'/],
    ['an unknown action', withGrants({ ALERT_AUTOMATION: { actions: ['AUTO_RESOLVE'], principals: ['opx-alert-automation'] } }), /grants\.ALERT_AUTOMATION\.actions/],
    ['an unknown authority', withGrants({ ALERT_AUTOMATOR: { actions: ['RESOLVE_INCIDENT'], principals: ['opx-alert-automation'] } }), /ALERT_AUTOMATOR/],
    ['a justification it cannot give', withGrants({ ALERT_AUTOMATION: { actions: ['RESOLVE_INCIDENT'], principals: ['opx-alert-automation'] } }, { justificationRequired: ['RESOLVE_INCIDENT'] }), /cannot require a justification/],
  ] as const) {
    it(`is refused at load when it grants ${what}, with a clear error`, () => {
      expect(() => AuthorityMatrix.fromDocument(doc)).to.throw(InvalidInput, message);
    });
  }
});
