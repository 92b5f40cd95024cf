import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { FileExists, LOOPBACK_HOSTS, makeLocalCertificates, writeLocalCertificates } from '../../src/esdb-server/auth/certificates.js';

const now = new Date('2026-03-01T12:00:00.000Z');

describe(makeLocalCertificates.name, () => {
  const made = makeLocalCertificates({ now, validDays: 30 });
  const ca = new X509Certificate(made.caCert);
  const server = new X509Certificate(made.cert);

  it('makes a CA certificate and a server certificate it signed', () => {
    expect(ca.ca).to.equal(true);
    expect(ca.checkIssued(ca)).to.equal(true);
    expect(server.ca).to.equal(false);
    expect(server.checkIssued(ca)).to.equal(true);
    expect(server.verify(ca.publicKey)).to.equal(true);
    expect(server.issuer).to.equal(ca.subject);
  });

  it('makes the server certificate for the loopback names, for server authentication only', () => {
    expect(made.hosts).to.deep.equal(LOOPBACK_HOSTS);
    expect(server.subjectAltName).to.equal('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(server.checkHost('localhost')).to.equal('localhost');
    expect(server.checkIP('127.0.0.1')).to.equal('127.0.0.1');
    expect(server.checkIP('::1')).to.equal('::1');
    expect(server.checkHost('example.com')).to.equal(undefined);
    expect(server.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.1']);
  });

  it('gives the server certificate the key it returns, ECDSA P-256', () => {
    const key = createPrivateKey(made.key);
    expect(server.checkPrivateKey(key)).to.equal(true);
    expect(key.asymmetricKeyType).to.equal('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
  });

  it('is valid from an hour before `now` to `validDays` after it', () => {
    expect(new Date(server.validFrom).getTime()).to.equal(now.getTime() - 3_600_000);
    expect(new Date(server.validTo).getTime()).to.equal(now.getTime() + 30 * 86_400_000);
    expect(made.notAfter.getTime()).to.equal(now.getTime() + 30 * 86_400_000);
  });

  it('writes dates from 2050 on as GeneralizedTime', () => {
    const late = new X509Certificate(makeLocalCertificates({ now: new Date('2049-12-31T00:00:00Z'), validDays: 2 }).cert);
    expect(new Date(late.validTo).toISOString()).to.equal('2050-01-02T00:00:00.000Z');
  });

  it('takes other hosts, IPv6 in every spelling', () => {
    const other = new X509Certificate(makeLocalCertificates({ now, validDays: 1, hosts: ['opx.internal', '10.1.2.3', 'fe80::1', '2001:db8::1:0:0:1'] }).cert);
    expect(other.subjectAltName).to.equal('DNS:opx.internal, IP Address:10.1.2.3, IP Address:FE80:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:1:0:0:1');
    expect(() => makeLocalCertificates({ now, validDays: 1, hosts: ['bad host'] })).to.throw(RangeError, /bad host/);
    expect(() => makeLocalCertificates({ now, validDays: 0 })).to.throw(RangeError, /validDays/);
  });

  it('makes new keys every time', () => {
    const again = makeLocalCertificates({ now, validDays: 30 });
    expect(again.key).not.to.equal(made.key);
    expect(new X509Certificate(again.cert).checkIssued(ca)).to.equal(false);
  });
});

describe(writeLocalCertificates.name, () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'opx-certs-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes ca.crt, node.crt and node.key 0600 into a directory it makes 0700', () => {
    const target = join(dir, 'certs');
    const made = makeLocalCertificates({ now, validDays: 1 });
    const files = writeLocalCertificates(target, made);
    expect(statSync(target).mode & 0o777).to.equal(0o700);
    for (const file of [files.caFile, files.certFile, files.keyFile]) expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(readFileSync(files.caFile, 'utf8')).to.equal(made.caCert);
    expect(readFileSync(files.keyFile, 'utf8')).to.equal(made.key);
  });

  it('replaces nothing unless told to, naming what exists', () => {
    writeFileSync(join(dir, 'ca.crt'), 'mine');
    expect(() => writeLocalCertificates(dir, makeLocalCertificates({ now, validDays: 1 }))).to.throw(FileExists, /ca\.crt exists already/);
    expect(readFileSync(join(dir, 'ca.crt'), 'utf8')).to.equal('mine');
    writeLocalCertificates(dir, makeLocalCertificates({ now, validDays: 1 }), { overwrite: true });
    expect(readFileSync(join(dir, 'ca.crt'), 'utf8')).to.match(/BEGIN CERTIFICATE/);
  });
});
