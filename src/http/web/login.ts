/**
 * Public sign-in by email (home realm discovery): the email's domain selects the tenant that owns it (tenant
 * `domains`) and its SAML connection, then the browser goes through the normal SP-initiated login. Several
 * connections (or several tenants owning the domain) get a choice page; an unknown domain gets a plain message.
 */
import express, { Router, type Response } from 'express';
import { safeLocalPath } from '../../common/local-path';
import { domainOf } from '../../provisioning/normalise';
import type { Connection, Tenant } from '../../provisioning/types';
import type { Store } from '../../store/ports';
import { DEFAULT_RETURN_TO } from '../sso';
const MAX_EMAIL_LENGTH = 320;

/** One place the user can sign in: a connection of a tenant that owns their domain. */
export interface SignInOption {
  tenant: Tenant;
  connection: Connection;
  href: string;
}

export type Discovery =
  | { kind: 'invalid_email' }
  | { kind: 'unknown_domain'; domain: string }
  | { kind: 'no_connection'; domain: string; tenants: Tenant[] }
  | { kind: 'found'; domain: string; options: SignInOption[] };

/**
 * Sends the browser on to `target` (a local path that redirects to the IdP) with a page that refreshes at once.
 * Why not a 303: the CSP's form-action 'self' also governs the redirects that follow a form submission, so a form
 * POST answered by a redirect chain ending at the IdP would be blocked by the browser. A refresh is a new navigation.
 */
export function continueTo(res: Response, target: string): void {
  res.render('redirect', {
    title: 'Signing you in',
    heading: 'Taking you to your organisation’s sign-in page…',
    text: 'If nothing happens, use the button below.',
    target,
  });
}

/** The SP-initiated login URL of a connection, carrying a local returnTo. */
export function ssoLoginHref(connectionSlug: string, returnTo: string): string {
  return `/sso/${encodeURIComponent(connectionSlug)}/login?returnTo=${encodeURIComponent(returnTo)}`;
}

export async function discoverSignIn(store: Store, email: string, returnTo: string): Promise<Discovery> {
  const trimmed = email.trim();
  const domain = trimmed.length <= MAX_EMAIL_LENGTH ? domainOf(trimmed) : null;
  if (!domain) return { kind: 'invalid_email' };
  const tenants = await store.tenants.findByDomain(domain);
  if (tenants.length === 0) return { kind: 'unknown_domain', domain };
  const options: SignInOption[] = [];
  for (const tenant of tenants) {
    for (const connection of await store.connections.listByTenant(tenant.id)) {
      options.push({ tenant, connection, href: ssoLoginHref(connection.slug, returnTo) });
    }
  }
  if (options.length === 0) return { kind: 'no_connection', domain, tenants };
  return { kind: 'found', domain, options };
}

function field(body: unknown, name: string): string {
  const value = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' ? value : '';
}

export function loginRouter(store: Store): Router {
  const r = Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 5 });

  r.get('/login', (req, res) => {
    const returnTo = safeLocalPath(req.query.returnTo) ?? DEFAULT_RETURN_TO;
    res.set('Cache-Control', 'no-store').render('login', { title: 'Sign in', email: '', returnTo, problem: null, signedInAs: req.user?.user.username ?? null });
  });

  r.post('/login', form, async (req, res) => {
    const email = field(req.body, 'email').slice(0, MAX_EMAIL_LENGTH);
    // The only returnTo rule: a local path, else the default.
    const returnTo = safeLocalPath(field(req.body, 'returnTo')) ?? DEFAULT_RETURN_TO;
    const found = await discoverSignIn(store, email, returnTo);
    res.set('Cache-Control', 'no-store');
    const again = (status: number, problem: { title: string; text: string }) =>
      res.status(status).render('login', { title: 'Sign in', email, returnTo, problem, signedInAs: null });
    switch (found.kind) {
      case 'invalid_email':
        again(422, { title: 'That doesn’t look like an email address', text: 'Enter your full work email, for example alex@yourcompany.com.' });
        return;
      case 'unknown_domain':
        again(404, {
          title: `We don’t know “${found.domain}”`,
          text: 'No organisation here signs in with that email domain. Check the address for typos, or use the sign-in link your IT team gave you.',
        });
        return;
      case 'no_connection':
        again(404, {
          title: `${found.tenants[0]!.name} hasn’t set up sign-in yet`,
          text: 'Your organisation is known here, but its sign-in is not connected yet. Ask your IT administrator to finish the setup.',
        });
        return;
      case 'found':
        if (found.options.length === 1) {
          continueTo(res, found.options[0]!.href);
          return;
        }
        res.render('login-choose', { title: 'Choose how to sign in', email, domain: found.domain, options: found.options });
    }
  });
  return r;
}
