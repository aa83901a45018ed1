/** JSON helpers shared by the adapters: documents stored as JSON text lose their Date types, these bring them back. */
import type { IdpCertificate, IdpDescriptor } from '../provisioning/types';

type Dated<T, K extends keyof T> = Omit<T, K> & { [P in K]: Date | string | number };

function toDate(value: Date | string | number): Date {
  const date = value instanceof Date ? new Date(value.getTime()) : new Date(value);
  if (Number.isNaN(date.getTime())) throw new Error(`Stored date is not valid: ${String(value)}`);
  return date;
}

/** Revives idp.importedAt and every certificate's notBefore/notAfter (ISO strings after a JSON round-trip). */
export function reviveIdpDescriptor(
  idp: Omit<IdpDescriptor, 'importedAt' | 'certs'> & {
    importedAt: Date | string | number;
    certs: Dated<IdpCertificate, 'notBefore' | 'notAfter'>[];
  },
): IdpDescriptor {
  return {
    ...idp,
    certs: idp.certs.map((cert) => ({ ...cert, notBefore: toDate(cert.notBefore), notAfter: toDate(cert.notAfter) })),
    importedAt: toDate(idp.importedAt),
  };
}
