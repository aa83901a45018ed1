/**
 * Safe XML parsing shared by everything that reads XML from outside (IdP metadata, SAML responses).
 *
 * @xmldom/xmldom 0.8 is lenient: it reports most malformations to its error handler and then carries on with a
 * "repaired" tree. For security-relevant XML we want the opposite, so every report (warning, error, fatal error)
 * becomes a refusal. DTDs are refused outright before parsing: SAML never needs one, and refusing them removes
 * entity expansion (billion laughs), external entities (XXE) and DTD-based attribute defaults in one check.
 */
import { DOMParser } from '@xmldom/xmldom';
import * as xpath from 'xpath';

export const NS = {
  /** SAML 2.0 metadata. */
  md: 'urn:oasis:names:tc:SAML:2.0:metadata',
  /** SAML 2.0 assertion. */
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  /** SAML 2.0 protocol. */
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  /** XML digital signature. */
  ds: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

export type XmlParseErrorCode = 'doctype_forbidden' | 'not_xml';

export class XmlParseError extends Error {
  constructor(
    readonly code: XmlParseErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'XmlParseError';
  }
}

/** `<!DOCTYPE` or `<!ENTITY` in any letter case, anywhere (even in a comment or CDATA: refusing is cheaper than proving it harmless). */
const DTD_MARKUP = /<!(?:doctype|entity)/i;

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;

/**
 * Parses `xml` into a DOM Document, or throws XmlParseError.
 * `what` names the document in messages ("The IdP metadata", "The SAMLResponse").
 */
export function parseXmlStrict(xml: string, what: string): Document {
  if (DTD_MARKUP.test(xml)) {
    throw new XmlParseError('doctype_forbidden', `${what} contains a DOCTYPE or ENTITY declaration, which is not allowed.`);
  }
  if (/^\s*$/.test(xml)) {
    throw new XmlParseError('not_xml', `${what} is empty.`);
  }
  // xmldom silently drops text before the root element ("junk<a/>"); XML does not allow it. (A leading byte-order
  // mark, as in Entra and AD FS metadata, passes: \s matches U+FEFF, and xmldom skips it.)
  if (!/^\s*</.test(xml)) {
    throw new XmlParseError('not_xml', `${what} is not XML (it does not start with "<").`);
  }

  const problems: string[] = [];
  const report = (message: string): void => {
    problems.push(message);
  };
  let doc: Document | undefined;
  try {
    doc = new DOMParser({ errorHandler: { warning: report, error: report, fatalError: report } }).parseFromString(xml, 'text/xml');
  } catch (error) {
    // xmldom throws on some fatal errors after reporting them.
    problems.push(error instanceof Error ? error.message : String(error));
  }
  if (problems.length > 0) {
    throw new XmlParseError('not_xml', `${what} is not well-formed XML: ${describeProblem(problems[0] ?? '')}`);
  }
  if (!doc?.documentElement) {
    throw new XmlParseError('not_xml', `${what} is not XML (no root element).`);
  }
  // xmldom keeps text found outside the root element without complaint ("<a/>junk"); XML does not allow it.
  for (let node = doc.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === TEXT_NODE && (node.nodeValue ?? '').trim() !== '') {
      throw new XmlParseError('not_xml', `${what} is not well-formed XML: text outside the root element.`);
    }
  }
  return doc;
}

/** xmldom messages look like "[xmldom error]\tunclosed xml attribute\n@#[line:1,col:4]"; keep the readable part. */
function describeProblem(message: string): string {
  const text = message.replace(/^\[xmldom [a-zA-Z]+\]\s*/, '').replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text || 'parse error';
}

const selectWithNamespaces = xpath.useNamespaces(NS);

/**
 * Evaluates a node-set XPath expression with the `md`, `saml`, `samlp` and `ds` prefixes bound (prefixes in the
 * expression are ours, whatever prefixes the document uses). Throws if the expression does not yield nodes.
 */
export function select(expression: string, node: Node): Node[] {
  const result = selectWithNamespaces(expression, node);
  if (!xpath.isArrayOfNodes(result)) {
    throw new TypeError(`XPath ${expression} does not select nodes`);
  }
  return result;
}

/** Like select, keeping only elements. */
export function selectElements(expression: string, node: Node): Element[] {
  return select(expression, node).filter(isElement);
}

export function isElement(node: Node | null | undefined): node is Element {
  return node != null && node.nodeType === ELEMENT_NODE;
}
