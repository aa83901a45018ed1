/**
 * X.509 helpers: normalising the certificates found in IdP metadata, describing them the way an admin sees them in
 * the IdP's console, and creating the self-signed development SP key pair.
 */
import { createHash, KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import { ValidationError } from '../common/errors';
import type { IdpCertificate } from '../provisioning/types';

/** A certificate that cannot be read. Callers that know more context (which KeyDescriptor) rethrow with it. */
export class InvalidCertificateError extends ValidationError {
  constructor(message: string) {
    super(message, undefined, 'invalid_certificate');
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Accepts a certificate as PEM, or as the bare base64 of a metadata `<ds:X509Certificate>` (any whitespace, line
 * breaks included), and returns canonical PEM: BEGIN/END CERTIFICATE lines, 64-character base64 lines, final newline.
 * Throws InvalidCertificateError for anything else (a private key, several certificates, broken base64).
 */
export function normalisePem(certBase64OrPem: string): string {
  let body = certBase64OrPem;
  if (certBase64OrPem.includes('-----BEGIN')) {
    const blocks = [...certBase64OrPem.matchAll(PEM_BLOCK)];
    if (blocks.length !== 1) {
      throw new InvalidCertificateError(
        blocks.length === 0 ? 'The PEM text has no complete BEGIN/END block.' : 'Give one certificate per entry, not a PEM bundle.',
      );
    }
    const [, label, content] = blocks[0] as RegExpMatchArray;
    if (label !== 'CERTIFICATE') {
      // Most likely a private key pasted by mistake: say so without echoing it.
      throw new InvalidCertificateError(`Expected a CERTIFICATE, got a PEM "${label}" block.`);
    }
    body = content ?? '';
  }
  const base64 = body.replace(/\s+/g, '');
  if (base64 === '' || base64.length % 4 !== 0 || !BASE64.test(base64)) {
    throw new InvalidCertificateError('The certificate is not valid base64.');
  }
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** SHA-256 over the DER bytes, upper-case hex pairs joined by ':' (the format Entra shows as "Thumbprint (SHA-256)"). */
export function sha256Fingerprint(der: Uint8Array): string {
  const hex = createHash('sha256').update(der).digest('hex').toUpperCase();
  return (hex.match(/../g) ?? []).join(':');
}

/** Parses a certificate (PEM or bare base64) into what Gatehouse stores and shows. */
export function describeCertificate(pem: string): IdpCertificate {
  const normalised = normalisePem(pem);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(normalised);
  } catch {
    throw new InvalidCertificateError('The data is base64, but not an X.509 certificate.');
  }
  // Node 20 has no validFromDate/validToDate; its validFrom/validTo strings ("Jan  1 00:00:00 2020 GMT") parse in V8.
  const notBefore = new Date(x509.validFrom);
  const notAfter = new Date(x509.validTo);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) {
    throw new InvalidCertificateError('The certificate has an unreadable validity period.');
  }
  return {
    pem: normalised,
    fingerprint: sha256Fingerprint(x509.raw),
    notBefore,
    notAfter,
    subject: x509.subject.split('\n').join(', '),
  };
}

export interface SelfSignedKeyPairOptions {
  /** Subject and issuer CN, e.g. the public host name. */
  commonName: string;
  /** Validity in days from now. */
  days: number;
}

export interface SelfSignedKeyPair {
  /** The key as unencrypted PKCS#8, PEM-encoded. */
  privateKeyPem: string;
  certPem: string;
}

const RSA_SHA256: RsaHashedKeyGenParams = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

/**
 * Creates an RSA-2048 key and a self-signed SHA-256 certificate for it: the development SP signing key created on
 * first start. Not for production (there, keys come from SP_KEY_FILE / SP_CERT_FILE).
 */
export async function generateSelfSignedKeyPair({ commonName, days }: SelfSignedKeyPairOptions): Promise<SelfSignedKeyPair> {
  if (commonName.trim() === '') throw new TypeError('commonName must not be empty');
  if (!Number.isFinite(days) || days <= 0) throw new TypeError('days must be a positive number');

  // Loaded on demand: @peculiar/x509 (and the reflect-metadata polyfill it needs first) take ~100 ms to load,
  // and only a first start needs them.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  // Node's webcrypto implements the WebCrypto interface @peculiar/x509 expects; the type names differ only nominally.
  const crypto = webcrypto as unknown as Crypto;

  const keys = await crypto.subtle.generateKey(RSA_SHA256, true, ['sign', 'verify']);
  const now = Date.now();
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0] ?? 0) & 0x7f; // positive, as RFC 5280 requires
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(serial).toString('hex'),
      // JSON form, so a CN with ',' or '=' needs no escaping.
      name: [{ CN: [commonName] }],
      // A few minutes in the past, so a peer whose clock runs slightly behind still accepts it.
      notBefore: new Date(now - 5 * 60_000),
      notAfter: new Date(now + days * 86_400_000),
      signingAlgorithm: RSA_SHA256,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return {
    privateKeyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: toPem('CERTIFICATE', Buffer.from(cert.rawData)),
  };
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
