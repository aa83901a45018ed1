/**
 * The connection setup wizard, in the order an Entra admin works:
 *   1. the values to paste into Entra (Identifier, Reply URL, Sign-on URL, Logout URL) and the SP metadata file;
 *   2. the IdP metadata (file, pasted XML or URL), previewed (entity ID, SSO URL, certificates, signature) before
 *      anything is stored;
 *   3. the settings (matching, JIT, memberships, group filters, IdP-initiated sign-in);
 *   4. a real test sign-in showing the received claims and the matching decision.
 * Before the connection exists (steps 1-2 of a new one) the chosen slug and name travel in the query string and
 * hidden fields; nothing is stored until the previewed metadata is confirmed.
 */
import { Router, type Request, type Response } from 'express';
import { AppError, ValidationError } from '../../common/errors';
import type { Connection, IdpDescriptor, Tenant } from '../../provisioning/types';
import { fetchMetadata } from '../../saml/metadata-fetch';
import { parseIdpMetadata } from '../../saml/metadata';
import { buildSpMetadataXml } from '../../saml/sp-metadata';
import { defaultSpEntityId, spUrls } from '../../saml/urls';
import { continueTo, ssoLoginHref } from '../web/login';
import { findTestSignIn, startTestSignIn, testSignInReturnTo, TEST_SIGN_IN_PATH } from '../web/test-sign-in';
import { flash, formField, formList, param, redirectAfterPost, type ConsoleOptions } from './context';
import { EXPIRY_WARNING_DAYS } from './dashboard';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const KNOWN_GROUPS_SHOWN = 500;

export type WizardStep = 'setup' | 'metadata' | 'settings' | 'test';

/** A connection being set up: saved (existing) or only chosen so far (draft). */
interface WizardSubject {
  tenant: Tenant;
  slug: string;
  name: string;
  connection: Connection | null;
}

function draftOf(req: Request, tenant: Tenant): { slug: string; name: string } {
  const q = { ...req.query, ...(req.body as Record<string, unknown> | undefined) } as Record<string, unknown>;
  const slug = typeof q.slug === 'string' && q.slug.trim() !== '' ? q.slug.trim().toLowerCase() : `${tenant.slug}-entra`;
  const name = typeof q.name === 'string' && q.name.trim() !== '' ? q.name.trim() : `${tenant.name} (Entra ID)`;
  return { slug, name };
}

function draftQuery(slug: string, name: string): string {
  return `slug=${encodeURIComponent(slug)}&name=${encodeURIComponent(name)}`;
}

/** What the IdP administrator pastes: Entra's "Basic SAML Configuration" fields. */
function spValues(baseUrl: string, subject: WizardSubject) {
  const urls = spUrls(baseUrl, subject.slug);
  return {
    identifier: subject.connection?.spEntityId ?? defaultSpEntityId(baseUrl, subject.slug),
    replyUrl: urls.acsUrl,
    signOnUrl: urls.loginUrl,
    logoutUrl: urls.sloUrl,
    metadataDownload: subject.connection
      ? `/sso/${encodeURIComponent(subject.slug)}/metadata`
      : `/admin/tenants/${subject.tenant.slug}/connections/new/sp-metadata.xml?${draftQuery(subject.slug, subject.name)}`,
  };
}

/** Where each step lives, for the stepper. Steps 3-4 need a saved connection. */
function stepLinks(subject: WizardSubject): Record<WizardStep, string | null> {
  if (subject.connection) {
    const base = `/admin/connections/${subject.connection.id}`;
    return { setup: `${base}/setup`, metadata: `${base}/metadata`, settings: `${base}/settings`, test: `${base}/test` };
  }
  const base = `/admin/tenants/${subject.tenant.slug}/connections/new`;
  const q = draftQuery(subject.slug, subject.name);
  return { setup: `${base}?${q}`, metadata: `${base}/metadata?${q}`, settings: null, test: null };
}

interface MetadataInput {
  metadataXml?: string;
  metadataUrl?: string;
}

function metadataInputOf(req: Request): MetadataInput {
  const xml = formField(req, 'metadataXml').trim();
  const url = formField(req, 'metadataUrl').trim();
  if (xml !== '') return { metadataXml: xml };
  if (url !== '') return { metadataUrl: url };
  throw new ValidationError('Choose a metadata file, paste the XML, or give the metadata URL.', undefined, 'metadata_required');
}

export function connectionPages(options: ConsoleOptions): Router {
  const { admin, store, baseUrl } = options;
  const r = Router();

  async function loadPreview(input: MetadataInput, trustedCertsPem?: string[]): Promise<IdpDescriptor> {
    // Parse only: the preview shows what was read, and nothing is stored until the admin confirms.
    if (input.metadataXml) return parseIdpMetadata(input.metadataXml, { source: { kind: 'xml' }, trustedCertsPem });
    const xml = await fetchMetadata(input.metadataUrl!, { allowPrivateNetworks: options.allowPrivateMetadataUrls });
    return parseIdpMetadata(xml, { source: { kind: 'url', url: input.metadataUrl! }, trustedCertsPem });
  }

  function render(res: Response, view: string, subject: WizardSubject, step: WizardStep, locals: Record<string, unknown> = {}) {
    res.render(`admin/connection-${view}`, {
      title: subject.connection ? subject.connection.name : `New connection for ${subject.tenant.name}`,
      nav: 'tenants',
      subject,
      step,
      steps: stepLinks(subject),
      values: spValues(baseUrl, subject),
      warningDays: EXPIRY_WARNING_DAYS,
      ...locals,
    });
  }

  async function saved(req: Request): Promise<WizardSubject> {
    const connection = await admin.getConnection(param(req, 'id'));
    const tenant = await admin.getTenant(connection.tenantId);
    return { tenant, slug: connection.slug, name: connection.name, connection };
  }

  // ---- a new connection: steps 1 and 2 ----

  r.get('/tenants/:tenant/connections/new', async (req, res) => {
    const tenant = await admin.getTenant(param(req, 'tenant'));
    const draft = draftOf(req, tenant);
    const slugProblem = !SLUG.test(draft.slug)
      ? 'Use 1-63 lower-case letters, digits and dashes.'
      : (await store.connections.findBySlug(draft.slug))
        ? 'Another connection already uses this name. Choose another one.'
        : null;
    render(res, 'setup', { tenant, ...draft, connection: null }, 'setup', { slugProblem });
  });

  r.get('/tenants/:tenant/connections/new/sp-metadata.xml', async (req, res) => {
    const tenant = await admin.getTenant(param(req, 'tenant'));
    const { slug } = draftOf(req, tenant);
    if (!SLUG.test(slug) || !options.spCertPem) throw new ValidationError('No SP metadata for this connection name.');
    const urls = spUrls(baseUrl, slug);
    const xml = buildSpMetadataXml({
      entityId: defaultSpEntityId(baseUrl, slug),
      acsUrl: urls.acsUrl,
      sloUrl: urls.sloUrl,
      signingCertPem: options.spCertPem,
      authnRequestsSigned: false,
    });
    res.type('application/samlmetadata+xml').attachment(`gatehouse-${slug}-metadata.xml`).send(xml);
  });

  r.get('/tenants/:tenant/connections/new/metadata', async (req, res) => {
    const tenant = await admin.getTenant(param(req, 'tenant'));
    render(res, 'metadata', { tenant, ...draftOf(req, tenant), connection: null }, 'metadata', { preview: null, input: {}, problem: null });
  });

  r.post('/tenants/:tenant/connections/new/metadata', async (req, res) => {
    const tenant = await admin.getTenant(param(req, 'tenant'));
    const subject: WizardSubject = { tenant, ...draftOf(req, tenant), connection: null };
    let input: MetadataInput = {};
    try {
      input = metadataInputOf(req);
      const preview = await loadPreview(input);
      render(res, 'metadata', subject, 'metadata', { preview, input, problem: null });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      res.status(422);
      render(res, 'metadata', subject, 'metadata', { preview: null, input, problem: error.message });
    }
  });

  r.post('/tenants/:tenant/connections', async (req, res) => {
    const tenant = await admin.getTenant(param(req, 'tenant'));
    const draft = draftOf(req, tenant);
    try {
      const view = await admin.createConnection(tenant.id, { slug: draft.slug, name: draft.name, ...metadataInputOf(req) });
      flash(req, 'ok', `Connection ${view.name} saved. Now choose how it matches and provisions accounts.`);
      redirectAfterPost(req, res, `/admin/connections/${view.id}/settings`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(req, 'bad', `The connection was not saved: ${error.message}`);
      redirectAfterPost(req, res, `/admin/tenants/${tenant.slug}/connections/new/metadata?${draftQuery(draft.slug, draft.name)}`);
    }
  });

  // ---- a saved connection: every step ----

  r.get('/connections/:id', async (req, res) => {
    const connection = await admin.getConnection(param(req, 'id'));
    res.redirect(302, `/admin/connections/${connection.id}/setup`);
  });

  r.get('/connections/:id/setup', async (req, res) => {
    render(res, 'setup', await saved(req), 'setup', { slugProblem: null });
  });

  r.get('/connections/:id/metadata', async (req, res) => {
    render(res, 'metadata', await saved(req), 'metadata', { preview: null, input: {}, problem: null });
  });

  r.post('/connections/:id/metadata', async (req, res) => {
    const subject = await saved(req);
    let input: MetadataInput = {};
    try {
      input = metadataInputOf(req);
      // The certificates trusted today may vouch for a signed replacement (as on re-import through the API).
      const preview = await loadPreview(input, subject.connection!.idp.certs.map((c) => c.pem));
      render(res, 'metadata', subject, 'metadata', { preview, input, problem: null });
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      res.status(422);
      render(res, 'metadata', subject, 'metadata', { preview: null, input, problem: error.message });
    }
  });

  r.post('/connections/:id/metadata/apply', async (req, res) => {
    const connection = await admin.getConnection(param(req, 'id'));
    try {
      await admin.reimportMetadata(connection.id, metadataInputOf(req));
      flash(req, 'ok', 'The new IdP metadata is in use.');
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(req, 'bad', `The metadata was not replaced: ${error.message}`);
    }
    redirectAfterPost(req, res, `/admin/connections/${connection.id}/metadata`);
  });

  r.get('/connections/:id/settings', async (req, res) => {
    const subject = await saved(req);
    const groups = await store.groups.listByTenant(subject.tenant.id, { offset: 0, limit: KNOWN_GROUPS_SHOWN });
    render(res, 'settings', subject, 'settings', { knownGroups: groups.items });
  });

  r.post('/connections/:id/settings', async (req, res) => {
    const connection = await admin.getConnection(param(req, 'id'));
    const checked = (name: string) => formField(req, name) === 'on';
    // Known groups are picked from the list; groups not seen yet can be typed, one per line.
    const groupFilter = (name: string) => [
      ...new Set([...formList(req, name), ...formField(req, `${name}Extra`).split(/\r?\n/u)].map((g) => g.trim()).filter((g) => g !== '')),
    ];
    try {
      await admin.updateConnection(connection.id, {
        name: formField(req, 'name') || connection.name,
        matchBy: formField(req, 'matchBy') === 'email' ? 'email' : 'upn',
        allowIdpInitiated: checked('allowIdpInitiated'),
        singleLogout: checked('singleLogout'),
        wantAuthnResponseSigned: checked('wantAuthnResponseSigned'),
        signAuthnRequests: checked('signAuthnRequests'),
        allowSha1: checked('allowSha1'),
        jit: {
          enabled: checked('jitEnabled'),
          updateOnLogin: checked('updateOnLogin'),
          membershipMode: formField(req, 'membershipMode') === 'append' ? 'append' : 'sync',
          groupsClaim: formField(req, 'groupsClaim').trim() || null,
          requireAnyGroup: groupFilter('requireAnyGroup'),
          onlyGroups: groupFilter('onlyGroups'),
          excludeGroups: groupFilter('excludeGroups'),
        },
        scim: { deleteMode: formField(req, 'deleteMode') === 'hard' ? 'hard' : 'soft' },
      });
      flash(req, 'ok', 'Settings saved. Run a test sign-in to see them at work.');
      redirectAfterPost(req, res, `/admin/connections/${connection.id}/test`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(req, 'bad', `Not saved: ${error.message}`);
      redirectAfterPost(req, res, `/admin/connections/${connection.id}/settings`);
    }
  });

  r.get('/connections/:id/test', async (req, res) => {
    const subject = await saved(req);
    const resultId = typeof req.query.result === 'string' ? req.query.result : undefined;
    const result = await findTestSignIn(store, subject.connection!.id, resultId);
    const user = result?.details.userId ? await store.users.findById(result.details.userId) : null;
    const refusals = await store.events.list({ connectionId: subject.connection!.id, outcome: 'refused', limit: 5 });
    render(res, 'test', subject, 'test', { result, fresh: resultId !== undefined && result !== null, user, refusals });
  });

  r.post('/connections/:id/test', async (req, res) => {
    const connection = await admin.getConnection(param(req, 'id'));
    const testId = await startTestSignIn(store, connection);
    // A real SP-initiated login; the ACS records the result instead of replacing this admin session.
    continueTo(res, ssoLoginHref(connection.slug, testSignInReturnTo(testId)));
  });

  // Where the ACS sends the browser after a test sign-in.
  r.get(`${TEST_SIGN_IN_PATH.replace(/^\/admin/u, '')}:testId`, async (req, res) => {
    const testId = param(req, 'testId');
    const events = await store.events.list({ channel: 'admin', limit: 500 });
    const event = events.find((e) => e.type === 'test_sign_in' && (e.details as { testId?: unknown }).testId === testId);
    if (!event?.connectionId) {
      res.status(404).render('admin/message', {
        title: 'No test result',
        heading: 'No result for this test sign-in',
        text: 'The test did not reach the point where a result is recorded (the sign-in page showed why), or it is too old.',
      });
      return;
    }
    res.redirect(303, `/admin/connections/${event.connectionId}/test?result=${encodeURIComponent(testId)}`);
  });

  return r;
}
