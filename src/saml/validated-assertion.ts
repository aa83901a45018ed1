/**
 * Reads what the ACS needs from node-saml's validated profile (design.md 4.7): the profile's fields, and the parsed
 * form of the *signed* assertion (`profile.getAssertion()`, which node-saml builds from the bytes the signature
 * covers: xml-crypto's canonical signed reference, comments removed). Nothing here looks at the raw POST again.
 */
import type { Profile } from '@node-saml/node-saml';
import { SamlRefusal } from './refusal';
import { BEARER_METHOD } from './acs-checks';

/** The xml2js shape node-saml parses into (explicitCharkey, prefixes stripped): `$` attributes, `_` text. */
interface XmlJsElement {
  $?: Record<string, string | undefined>;
  _?: string;
  [child: string]: unknown;
}

function isElement(value: unknown): value is XmlJsElement {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function children(parent: XmlJsElement | undefined, name: string): XmlJsElement[] {
  const value = parent?.[name];
  return Array.isArray(value) ? value.filter(isElement) : [];
}

function attribute(element: XmlJsElement | undefined, name: string): string | null {
  const value = element?.$?.[name];
  return typeof value === 'string' ? value : null;
}

function instantMs(value: string | null): number | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

export interface SignedAssertionFacts {
  /** ID of the assertion the signature covers. */
  id: string;
  issueInstantMs: number | null;
  /** NotOnOrAfter of every bearer subject confirmation. */
  bearerNotOnOrAfterMs: number[];
  conditionsNotOnOrAfterMs: number | null;
  /**
   * The InResponseTo the *signed* assertion states (bearer SubjectConfirmationData). The Response element's own
   * InResponseTo is outside the signature when only the assertion is signed.
   */
  subjectInResponseTo: string | null;
}

export function signedAssertionFacts(profile: Profile): SignedAssertionFacts {
  const parsed = profile.getAssertion?.();
  const assertion = isElement(parsed) && isElement(parsed.Assertion) ? parsed.Assertion : undefined;
  const id = attribute(assertion, 'ID');
  if (!assertion || !id) throw new SamlRefusal('invalid_assertion', 'the validated assertion has no ID');

  const bearerData = children(assertion, 'Subject')
    .flatMap((subject) => children(subject, 'SubjectConfirmation'))
    .filter((confirmation) => attribute(confirmation, 'Method') === BEARER_METHOD)
    .flatMap((confirmation) => children(confirmation, 'SubjectConfirmationData'));

  const inResponseTos = [...new Set(bearerData.map((data) => attribute(data, 'InResponseTo')).filter((v): v is string => !!v))];
  if (inResponseTos.length > 1) {
    throw new SamlRefusal('unknown_in_response_to', 'subject confirmations answer different requests');
  }

  return {
    id,
    issueInstantMs: instantMs(attribute(assertion, 'IssueInstant')),
    bearerNotOnOrAfterMs: bearerData.map((data) => instantMs(attribute(data, 'NotOnOrAfter'))).filter((v): v is number => v !== null),
    conditionsNotOnOrAfterMs: instantMs(attribute(children(assertion, 'Conditions')[0], 'NotOnOrAfter')),
    subjectInResponseTo: inResponseTos[0] ?? null,
  };
}

/**
 * The profile's attributes as claim URI -> string values. node-saml gives a string for a single value, an array
 * for several, and an object for a value with child elements (not a claim we can use: dropped), `undefined` for
 * an empty `<AttributeValue/>` (dropped).
 */
export function profileAttributes(profile: Profile): Record<string, string[]> {
  const raw = profile.attributes;
  const out: Record<string, string[]> = {};
  if (!isElement(raw)) return out;
  for (const [name, value] of Object.entries(raw)) {
    const values = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
    // Assigning a claim named "__proto__" would replace the record's prototype instead of adding a key.
    if (name === '__proto__') continue;
    out[name] = values;
  }
  return out;
}

/** A non-empty string field of the profile, or null. */
export function profileString(profile: Profile, field: 'nameID' | 'nameIDFormat' | 'sessionIndex' | 'issuer' | 'inResponseTo'): string | null {
  const value: unknown = profile[field];
  return typeof value === 'string' && value !== '' ? value : null;
}
