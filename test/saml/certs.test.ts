import { createPrivateKey, generateKeyPairSync, sign, verify, X509Certificate } from 'node:crypto';
import { ValidationError } from '../../src/common/errors';
import { describeCertificate, generateSelfSignedKeyPair, InvalidCertificateError, normalisePem } from '../../src/saml/certs';
import { certBase64, pem } from '../fixtures/metadata/fixtures';

// Computed once with: openssl x509 -in test/fixtures/NAME.crt -noout -fingerprint -sha256
const OPENSSL_SHA256 = {
  'idp-signing-1': 'A6:1D:5D:D2:7F:1D:DD:3E:B0:1F:80:E6:73:26:36:21:E7:92:DD:F2:3C:BD:AB:21:19:FF:63:D4:D1:C8:C2:08',
  'idp-expired': '89:56:9F:8F:8C:20:B4:44:10:34:A5:14:5F:FF:86:AA:8A:7A:40:E5:9B:35:8A:FA:47:D6:82:0F:F4:5A:37:44',
};

function invalidCertificate(fn: () => unknown): InvalidCertificateError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidCertificateError) return error;
    throw error;
  }
  throw new Error('expected an InvalidCertificateError');
}

describe('normalisePem', () => {
  const fixturePem = pem('idp-signing-1.crt'); // openssl writes 64-character lines

  it('turns the bare base64 of <ds:X509Certificate> (with any whitespace) into 64-column PEM', () => {
    const base64 = certBase64('idp-signing-1');
    expect(normalisePem(base64)).toBe(fixturePem);
    const messy = `\n\t  ${base64.slice(0, 10)} \r\n${base64.slice(10, 300)}\n    ${base64.slice(300)}  \n`;
    expect(normalisePem(messy)).toBe(fixturePem);
  });

  it('re-wraps PEM input and ignores text around the block', () => {
    const oneLine = `subject=CN=idp-signing-1\n-----BEGIN CERTIFICATE-----\n${certBase64('idp-signing-1')}\n-----END CERTIFICATE-----`;
    expect(normalisePem(oneLine)).toBe(fixturePem);
    expect(normalisePem(fixturePem)).toBe(fixturePem);
  });

  it('refuses a private key, a bundle, broken base64 and nothing', () => {
    expect(invalidCertificate(() => normalisePem(pem('idp-signing-1.key'))).message).toMatch(/Expected a CERTIFICATE, got a PEM "PRIVATE KEY" block/);
    expect(invalidCertificate(() => normalisePem(pem('idp-signing-1.crt') + pem('idp-signing-2.crt'))).message).toMatch(/one certificate/);
    expect(invalidCertificate(() => normalisePem('-----BEGIN CERTIFICATE-----\nMIIB')).message).toMatch(/no complete BEGIN\/END block/);
    expect(invalidCertificate(() => normalisePem('MIIB$$$=')).message).toMatch(/not valid base64/);
    expect(invalidCertificate(() => normalisePem('MIIBC')).message).toMatch(/not valid base64/); // length not a multiple of 4
    expect(invalidCertificate(() => normalisePem('  \n ')).message).toMatch(/not valid base64/);
  });

  it('is a ValidationError with code invalid_certificate', () => {
    const error = invalidCertificate(() => normalisePem('no!'));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.code).toBe('invalid_certificate');
  });
});

describe('describeCertificate', () => {
  it('gives the SHA-256 fingerprint exactly as openssl (and Entra) show it', () => {
    const cert = describeCertificate(pem('idp-signing-1.crt'));
    expect(cert.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(cert.fingerprint).toBe(OPENSSL_SHA256['idp-signing-1']);
  });

  it('reads subject, validity and returns normalised PEM, from bare base64 too', () => {
    expect(describeCertificate(certBase64('idp-expired'))).toEqual({
      pem: pem('idp-expired.crt'),
      fingerprint: OPENSSL_SHA256['idp-expired'],
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2021-01-01T00:00:00Z'),
      subject: 'CN=idp-expired.gatehouse-test',
    });
  });

  it('refuses base64 that is not a certificate', () => {
    expect(invalidCertificate(() => describeCertificate(Buffer.from('hello world').toString('base64'))).message).toMatch(/not an X\.509 certificate/);
  });
});

describe('generateSelfSignedKeyPair', () => {
  it('creates an RSA-2048 key and a matching self-signed SHA-256 certificate with the CN and validity asked for', async () => {
    const before = Date.now();
    const { privateKeyPem, certPem } = await generateSelfSignedKeyPair({ commonName: 'gatehouse.example.com', days: 30 });
    expect(certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);

    const privateKey = createPrivateKey(privateKeyPem);
    // Unencrypted PKCS#8 PEM: exporting the parsed key in that form gives back the very same text.
    expect(privateKey.export({ type: 'pkcs8', format: 'pem' })).toBe(privateKeyPem);
    expect(privateKey.asymmetricKeyType).toBe('rsa');
    expect(privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);

    const x509 = new X509Certificate(certPem);
    expect(x509.subject).toBe('CN=gatehouse.example.com');
    expect(x509.issuer).toBe('CN=gatehouse.example.com');
    expect(x509.checkPrivateKey(privateKey)).toBe(true);
    expect(x509.verify(x509.publicKey)).toBe(true); // self-signed
    expect(x509.ca).toBe(false);

    // Round trip: what the private key signs, the certificate's public key verifies (and nothing else does).
    const data = Buffer.from('<samlp:AuthnRequest ID="_1"/>');
    const signature = sign('sha256', data, privateKey);
    expect(verify('sha256', data, x509.publicKey, signature)).toBe(true);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(verify('sha256', data, other.publicKey, signature)).toBe(false);

    const described = describeCertificate(certPem);
    expect(described.notBefore.getTime()).toBeLessThanOrEqual(before);
    const expectedNotAfter = before + 30 * 86_400_000;
    expect(Math.abs(described.notAfter.getTime() - expectedNotAfter)).toBeLessThan(60_000);
  });

  it('signs the certificate with SHA-256', async () => {
    const { certPem } = await generateSelfSignedKeyPair({ commonName: 'sp', days: 1 });
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    const cert = new x509.X509Certificate(certPem);
    expect(cert.signatureAlgorithm).toMatchObject({ name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } });
  });

  it('keeps a CN with DN special characters as one CN value', async () => {
    const { certPem } = await generateSelfSignedKeyPair({ commonName: 'Gatehouse, Inc. = dev+1', days: 1 });
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    const subject = new x509.X509Certificate(certPem).subjectName;
    expect(subject.getField('CN')).toEqual(['Gatehouse, Inc. = dev+1']);
    expect(subject.toJSON()).toHaveLength(1); // not split into several RDNs
  });

  it('refuses nonsense input', async () => {
    await expect(generateSelfSignedKeyPair({ commonName: ' ', days: 1 })).rejects.toThrow(/commonName/);
    await expect(generateSelfSignedKeyPair({ commonName: 'x', days: 0 })).rejects.toThrow(/days/);
  });
});
