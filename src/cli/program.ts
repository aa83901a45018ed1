/**
 * The `gatehouse` CLI: every admin action for people without the UI. It opens the configured store directly
 * (DATABASE_URL, like the server) and goes through the same AdminService as the admin API.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { AdminService, type ConnectionView } from '../admin/service';
import { AppError, ValidationError } from '../common/errors';
import { silentLogger } from '../common/log';
import { ConfigError, parseEnv } from '../config/env';
import type { ProvisioningEvent, Tenant } from '../provisioning/types';
import { parseRenameCsv } from '../admin/rename-csv';
import { createBootstrapLink } from '../admin/bootstrap';
import { openStore } from '../store';
import type { Store } from '../store/ports';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether stderr is a terminal (progress bars are drawn only there). */
  isTTY?: boolean;
  /** Ends long-running commands (events --follow); the binary wires it to SIGINT. */
  signal?: AbortSignal;
  /** Poll interval for events --follow. */
  followIntervalMs?: number;
}

/** Exit codes: 0 ok, 1 the action failed (not found, conflict, bad metadata), 2 bad usage or configuration. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let store: Store | null = null;
  const withAdmin = async <T>(fn: (admin: AdminService) => Promise<T>): Promise<T> => {
    const settings = parseEnv(io.env);
    const opened: Store = store ?? (await openStore(settings.databaseUrl, { logger: silentLogger() }));
    store = opened;
    const admin = new AdminService({
      store: opened,
      baseUrl: settings.baseUrl,
      allowPrivateMetadataUrls: settings.allowPrivateMetadataUrls,
      logger: silentLogger(),
    });
    return fn(admin);
  };
  const print = (json: boolean, value: unknown, human: () => string) => io.out(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);

  const program = new Command('gatehouse')
    .description('Gatehouse admin CLI: tenants, SAML connections and the matching rules.\nUses DATABASE_URL and BASE_URL like the server.')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .option('--json', 'print JSON instead of text', false);
  const json = () => Boolean(program.opts<{ json: boolean }>().json);

  const tenant = program.command('tenant').description('manage tenants (customer organisations)');
  tenant
    .command('create')
    .description('create a tenant')
    .requiredOption('--slug <slug>', 'short name used in URLs and commands, e.g. contoso')
    .requiredOption('--name <name>', 'display name')
    .option('--domain <domain...>', 'an email domain the tenant owns (repeatable); logins outside them are refused')
    .action(async (o: { slug: string; name: string; domain?: string[] }) => {
      const t = await withAdmin((a) => a.createTenant({ slug: o.slug, name: o.name, domains: o.domain ?? [] }));
      print(json(), t, () => `Tenant ${t.slug} created (id ${t.id}).${describeDomains(t)}`);
    });
  tenant
    .command('list')
    .description('list tenants')
    .action(async () => {
      const items = await withAdmin((a) => a.listTenants());
      print(json(), items, () => (items.length === 0 ? 'No tenants yet.' : items.map((t) => `${t.slug}\t${t.name}\t${t.domains.join(',')}`).join('\n')));
    });
  tenant
    .command('update <tenant>')
    .description('change a tenant name or its owned domains')
    .option('--name <name>', 'display name')
    .option('--domain <domain...>', 'the complete list of owned domains (replaces the current list)')
    .option('--no-domains', 'remove every owned domain (no domain restriction)')
    .action(async (ref: string, o: { name?: string; domain?: string[]; domains?: boolean }) => {
      const domains = o.domains === false ? [] : o.domain;
      const t = await withAdmin((a) => a.updateTenant(ref, { ...(o.name ? { name: o.name } : {}), ...(domains ? { domains } : {}) }));
      print(json(), t, () => `Tenant ${t.slug} updated.${describeDomains(t)}`);
    });

  const connection = program.command('connection').description('manage SAML connections to identity providers');
  const settingsOptions = (cmd: Command) =>
    cmd
      .addOption(new Option('--match-by <rule>', 'match accounts by UPN or by email').choices(['upn', 'email']))
      .addOption(new Option('--idp-initiated <on|off>', 'accept IdP-initiated sign-in (Entra My Apps tile)').choices(['on', 'off']))
      .addOption(new Option('--jit <on|off>', 'create accounts on first sign-in').choices(['on', 'off']))
      .addOption(new Option('--update-on-login <on|off>', 'refresh names and email on every sign-in').choices(['on', 'off']))
      .addOption(new Option('--want-response-signed <on|off>', 'require the whole Response to be signed').choices(['on', 'off']))
      .addOption(new Option('--sign-requests <on|off>', 'sign AuthnRequests with the SP key').choices(['on', 'off']))
      .addOption(new Option('--allow-sha1 <on|off>', 'accept SHA-1 signatures (legacy IdPs only)').choices(['on', 'off']))
      .addOption(new Option('--single-logout <on|off>', 'sign out at the IdP too on POST /logout (SAML single logout)').choices(['on', 'off']));

  settingsOptions(
    connection
      .command('import')
      .description('create a connection from the IdP metadata (Entra: App Federation Metadata Url or the downloaded XML)')
      .requiredOption('--tenant <tenant>', 'tenant slug or id')
      .requiredOption('--slug <slug>', 'connection name used in URLs, e.g. contoso-entra')
      .option('--name <name>', 'display name')
      .option('--metadata <file>', 'IdP metadata XML file')
      .option('--url <url>', 'IdP metadata URL (fetched now)')
      .option('--entity-id <id>', 'which IdP to use when the metadata lists several'),
  ).action(async (o: Record<string, string | undefined>) => {
    const view = await withAdmin((a) =>
      a.createConnection(o.tenant!, {
        slug: o.slug,
        ...(o.name ? { name: o.name } : {}),
        ...metadataSource(o),
        ...settingsFrom(o),
      }),
    );
    print(json(), view, () => `Connection ${view.slug} created.\n${describeConnection(view)}`);
  });
  connection
    .command('list')
    .description("list a tenant's connections")
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .action(async (o: { tenant: string }) => {
      const items = await withAdmin((a) => a.listConnections(o.tenant));
      print(json(), items, () => (items.length === 0 ? 'No connections.' : items.map((c) => `${c.slug}\t${c.id}\t${c.idp.entityId}`).join('\n')));
    });
  connection
    .command('show <connection>')
    .description('show a connection and the values to paste into the IdP')
    .action(async (ref: string) => {
      const view = await withAdmin(async (a) => a.view(await a.getConnection(ref)));
      print(json(), view, () => describeConnection(view));
    });
  settingsOptions(connection.command('update <connection>').description('change connection settings').option('--name <name>', 'display name')).action(
    async (ref: string, o: Record<string, string | undefined>) => {
      const view = await withAdmin((a) => a.updateConnection(ref, { ...(o.name ? { name: o.name } : {}), ...settingsFrom(o) }));
      print(json(), view, () => `Connection ${view.slug} updated (version ${view.version}).\n${describeSettings(view)}`);
    },
  );
  connection
    .command('reimport <connection>')
    .description('re-import IdP metadata (after a certificate rollover); without options, from the URL it came from')
    .option('--metadata <file>', 'IdP metadata XML file')
    .option('--url <url>', 'IdP metadata URL')
    .action(async (ref: string, o: Record<string, string | undefined>) => {
      const view = await withAdmin((a) => a.reimportMetadata(ref, metadataSource(o)));
      print(json(), view, () => `Metadata re-imported.\n${describeConnection(view)}`);
    });
  connection
    .command('delete <connection>')
    .description('delete a connection (its users and groups stay with the tenant)')
    .requiredOption('--yes', 'confirm')
    .action(async (ref: string) => {
      await withAdmin((a) => a.deleteConnection(ref));
      print(json(), { deleted: ref }, () => `Connection ${ref} deleted.`);
    });

  const groups = program.command('groups').description('manage groups');
  groups
    .command('rename')
    .description('give groups their real names (e.g. Entra object id -> display name) from a CSV: id,name per row')
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .requiredOption('--file <csv>', 'CSV file with two columns: group id, name (a header row id,name is optional)')
    .action(async (o: { tenant: string; file: string }) => {
      let text: string;
      try {
        text = readFileSync(o.file, 'utf8');
      } catch {
        throw new ValidationError(`Cannot read ${o.file}.`, undefined, 'file_unreadable');
      }
      const names = parseRenameCsv(text);
      const bar = io.isTTY ? progressBar(io.err) : undefined;
      const result = await withAdmin((a) => a.renameGroups(o.tenant, { names: Object.fromEntries(names) }, bar));
      if (bar) io.err('\n');
      print(json(), result, () =>
        [`Renamed ${result.renamed.length} group(s).`, ...(result.unknown.length > 0 ? [`Unknown ids (no such group; nothing created): ${result.unknown.join(', ')}`] : [])].join('\n'),
      );
    });

  const user = program.command('user').description('manage accounts');
  for (const [name, active] of [['disable', false], ['enable', true]] as const) {
    user
      .command(`${name} <user>`)
      .description(`${name} an account (by id or username)${active ? '' : '; its sessions end at once'}`)
      .requiredOption('--connection <connection>', 'connection slug or id (selects the tenant)')
      .action(async (ref: string, o: { connection: string }) => {
        const u = await withAdmin(async (a) => a.setUserActive(o.connection, (await a.findUser(o.connection, ref)).id, { active }));
        print(json(), u, () => `Account ${u.username} ${active ? 'enabled' : 'disabled'}.`);
      });
  }

  program
    .command('events')
    .description("show a connection's provisioning log, newest first")
    .requiredOption('--connection <connection>', 'connection slug or id')
    .option('--limit <n>', 'how many', (v) => Number.parseInt(v, 10), 50)
    .addOption(new Option('--outcome <outcome>', 'only this outcome').choices(['success', 'refused', 'error', 'info']))
    .option('--follow', 'keep printing new events until interrupted', false)
    .action(async (o: { connection: string; limit: number; outcome?: 'success' | 'refused' | 'error' | 'info'; follow: boolean }) => {
      const format = (e: ProvisioningEvent) =>
        json() ? JSON.stringify(e) : `${e.at.toISOString()}  ${e.channel.padEnd(5)} ${e.outcome.padEnd(8)} ${e.type.padEnd(18)} ${e.subject ?? '-'}${e.reason ? `  (${e.reason})` : ''}`;
      const first = await withAdmin((a) => a.listEvents(o.connection, { limit: o.limit, outcome: o.outcome }));
      if (first.length > 0) io.out(`${first.map(format).join('\n')}\n`);
      if (!o.follow) return;
      const seen = new Set(first.map((e) => e.id));
      // Oldest-first once following, like tail -f.
      while (!io.signal?.aborted) {
        await sleep(io.followIntervalMs ?? 2000, io.signal);
        if (io.signal?.aborted) break;
        const recent = await withAdmin((a) => a.listEvents(o.connection, { limit: 200, outcome: o.outcome }));
        const fresh = recent.filter((e) => !seen.has(e.id)).reverse();
        for (const e of fresh) seen.add(e.id);
        if (fresh.length > 0) io.out(`${fresh.map(format).join('\n')}\n`);
      }
    });

  const adminCommand = program.command('admin').description('the admin console');
  adminCommand
    .command('bootstrap')
    .description('print a one-time link to the admin console (works once, for 15 minutes): for the first start, or when locked out')
    .action(async () => {
      const baseUrl = parseEnv(io.env).baseUrl;
      const link = await withAdmin(() => createBootstrapLink(store!.requestCache, baseUrl));
      print(json(), { url: link.url, expiresAt: link.expiresAt.toISOString() }, () =>
        [`Open this one-time link to the admin console (valid until ${link.expiresAt.toISOString()}, once):`, `  ${link.url}`].join('\n'),
      );
    });

  const scimToken = program.command('scim-token').description("manage a connection's SCIM bearer tokens (Entra: Provisioning > Secret Token)");
  scimToken
    .command('create')
    .description('create a SCIM token (shown once; only its hash is kept)')
    .requiredOption('--connection <connection>', 'connection slug or id')
    .option('--days <n>', 'days until it expires (default 365)')
    .action(async (o: { connection: string; days?: string }) => {
      const t = await withAdmin((a) => a.createScimToken(o.connection, o.days ? { expiresInDays: o.days } : {}));
      print(json(), t, () =>
        [`SCIM token ${t.id} created, expires ${t.expiresAt}. Copy it now, it is not shown again:`, `  ${t.token}`].join('\n'),
      );
    });
  scimToken
    .command('list')
    .description("list a connection's SCIM tokens (prefix, created, expires, last used)")
    .requiredOption('--connection <connection>', 'connection slug or id')
    .action(async (o: { connection: string }) => {
      const items = await withAdmin((a) => a.listScimTokens(o.connection));
      print(json(), items, () =>
        items.length === 0
          ? 'No SCIM tokens.'
          : items
              .map((t) => `${t.id}\t${t.prefix}…\t${t.status}\tcreated ${t.createdAt}\texpires ${t.expiresAt}\tlast used ${t.lastUsedAt ?? 'never'}`)
              .join('\n'),
      );
    });
  scimToken
    .command('extend <token-id>')
    .description('set a SCIM token to expire N days from now (default 365)')
    .requiredOption('--connection <connection>', 'connection slug or id')
    .option('--days <n>', 'days from now')
    .action(async (id: string, o: { connection: string; days?: string }) => {
      const t = await withAdmin((a) => a.extendScimToken(o.connection, id, o.days ? { expiresInDays: o.days } : {}));
      print(json(), t, () => `SCIM token ${t.prefix}… now expires ${t.expiresAt}.`);
    });
  scimToken
    .command('revoke <token-id>')
    .description('revoke a SCIM token at once')
    .requiredOption('--connection <connection>', 'connection slug or id')
    .action(async (id: string, o: { connection: string }) => {
      const t = await withAdmin((a) => a.revokeScimToken(o.connection, id));
      print(json(), t, () => `SCIM token ${t.prefix}… revoked.`);
    });

  const scimClientCommand = program.command('scim-client').description('manage OAuth 2.0 client-credentials clients of a connection\'s SCIM endpoint');
  scimClientCommand
    .command('create')
    .description('create a client id and secret (the secret is shown once)')
    .requiredOption('--connection <connection>', 'connection slug or id')
    .action(async (o: { connection: string }) => {
      const c = await withAdmin((a) => a.createScimClient(o.connection));
      print(json(), c, () =>
        [`OAuth client created. Token endpoint: ${c.tokenUrl}`, `  client_id:     ${c.clientId}`, `  client_secret: ${c.clientSecret}   (shown once)`].join('\n'),
      );
    });
  scimClientCommand
    .command('list')
    .description("list a connection's OAuth clients")
    .requiredOption('--connection <connection>', 'connection slug or id')
    .action(async (o: { connection: string }) => {
      const items = await withAdmin((a) => a.listScimClients(o.connection));
      print(json(), items, () => (items.length === 0 ? 'No OAuth clients.' : items.map((c) => `${c.id}\t${c.clientId}\t${c.status}\tlast used ${c.lastUsedAt ?? 'never'}`).join('\n')));
    });
  scimClientCommand
    .command('revoke <client>')
    .description('revoke a client (by id or client_id) and the access tokens it obtained')
    .requiredOption('--connection <connection>', 'connection slug or id')
    .action(async (id: string, o: { connection: string }) => {
      const c = await withAdmin((a) => a.revokeScimClient(o.connection, id));
      print(json(), c, () => `OAuth client ${c.clientId} revoked.`);
    });

  program
    .command('match')
    .description('dry run of the matching rules: which account a sign-in would use or create, and why')
    .requiredOption('--connection <connection>', 'connection slug or id')
    .option('--username <value>', 'the UPN (or email, for connections that match by email)')
    .option('--email <value>', 'the email claim')
    .option('--object-id <id>', "the IdP's immutable id (Entra objectidentifier)")
    .action(async (o: { connection: string; username?: string; email?: string; objectId?: string }) => {
      const r = await withAdmin((a) => a.match(o.connection, { username: o.username, email: o.email, objectId: o.objectId }));
      print(json(), r, () =>
        r.decision === 'use'
          ? `Would sign in to existing account ${r.username} (${r.userId}), found by ${r.via === 'linked' ? 'its pinned IdP object id' : 'its username'}.`
          : r.decision === 'create'
            ? `No account matches: a new account ${r.username} would be created (JIT).`
            : `Would be refused: ${r.reason}.`,
      );
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof ConfigError) {
      io.err(`gatehouse: invalid configuration: ${error.message}\n`);
      return 2;
    }
    if (error instanceof AppError) {
      io.err(`gatehouse: ${error.message}${error.code ? ` [${error.code}]` : ''}\n`);
      return 1;
    }
    throw error;
  } finally {
    if (store) await (store as Store).close();
  }
}

function metadataSource(o: Record<string, string | undefined>): { metadataXml?: string; metadataUrl?: string; idpEntityId?: string } {
  const source: { metadataXml?: string; metadataUrl?: string; idpEntityId?: string } = {};
  if (o.metadata) {
    try {
      source.metadataXml = readFileSync(o.metadata, 'utf8');
    } catch {
      throw new ValidationError(`Cannot read the metadata file ${o.metadata}.`, undefined, 'file_unreadable');
    }
  }
  if (o.url) source.metadataUrl = o.url;
  if (o.entityId) source.idpEntityId = o.entityId;
  return source;
}

function settingsFrom(o: Record<string, string | undefined>): Record<string, unknown> {
  const on = (v: string | undefined) => (v === undefined ? undefined : v === 'on');
  const settings: Record<string, unknown> = {};
  if (o.matchBy) settings.matchBy = o.matchBy;
  if (on(o.idpInitiated) !== undefined) settings.allowIdpInitiated = on(o.idpInitiated);
  if (on(o.wantResponseSigned) !== undefined) settings.wantAuthnResponseSigned = on(o.wantResponseSigned);
  if (on(o.signRequests) !== undefined) settings.signAuthnRequests = on(o.signRequests);
  if (on(o.allowSha1) !== undefined) settings.allowSha1 = on(o.allowSha1);
  if (on(o.singleLogout) !== undefined) settings.singleLogout = on(o.singleLogout);
  const jit: Record<string, boolean> = {};
  if (on(o.jit) !== undefined) jit.enabled = on(o.jit)!;
  if (on(o.updateOnLogin) !== undefined) jit.updateOnLogin = on(o.updateOnLogin)!;
  if (Object.keys(jit).length > 0) settings.jit = jit;
  return settings;
}

function describeDomains(t: Tenant): string {
  return t.domains.length > 0 ? ` Owned domains: ${t.domains.join(', ')}.` : ' No owned domains (logins are not restricted by domain).';
}

function describeSettings(v: ConnectionView): string {
  const s = v.settings;
  const onOff = (b: boolean) => (b ? 'on' : 'off');
  return [
    `  Match accounts by:        ${s.matchBy === 'upn' ? 'UPN (NameID / name claim)' : 'email claim'}`,
    `  JIT account creation:     ${onOff(s.jit.enabled)} (update profile on login: ${onOff(s.jit.updateOnLogin)})`,
    `  IdP-initiated sign-in:    ${onOff(s.allowIdpInitiated)}`,
    `  Require signed Response:  ${onOff(s.wantAuthnResponseSigned)}   Sign AuthnRequests: ${onOff(s.signAuthnRequests)}   SHA-1: ${onOff(s.allowSha1)}`,
    `  Single logout at the IdP: ${onOff(s.singleLogout ?? false)}`,
  ].join('\n');
}

function describeConnection(v: ConnectionView): string {
  const now = Date.now();
  const certs = v.idp.certs.map((c) => {
    const days = Math.floor((Date.parse(c.notAfter) - now) / 86_400_000);
    return `    ${c.fingerprint}  expires ${c.notAfter.slice(0, 10)} (${days < 0 ? 'EXPIRED' : `${days} days`})`;
  });
  return [
    `Paste these into the identity provider (Entra ID: Enterprise application > Single sign-on > Basic SAML Configuration):`,
    `  Identifier (Entity ID):   ${v.spEntityId}`,
    `  Reply URL (ACS URL):      ${v.acsUrl}`,
    `  Sign on URL:              ${v.loginUrl}`,
    `  Logout Url (Optional):    ${v.logoutUrl}`,
    `  SP metadata:              ${v.metadataUrl}`,
    `Identity provider:`,
    `  Entity ID:                ${v.idp.entityId}`,
    `  SSO URL:                  ${v.idp.ssoUrl ?? '(none)'}`,
    `  Single logout URL:        ${v.idp.sloUrl ?? '(none: single logout cannot reach the IdP)'}`,
    `  Metadata signature:       ${v.idp.metadataSigned ? 'verified' : 'not signed'}`,
    `  Signing certificates (SHA-256):`,
    ...certs,
    `Settings (connection ${v.slug}, id ${v.id}):`,
    describeSettings(v),
  ].join('\n');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** A one-line progress bar on a terminal, redrawn at most every 1%. */
function progressBar(write: (text: string) => void): (done: number, total: number) => void {
  let lastPercent = -1;
  return (done, total) => {
    const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
    if (percent === lastPercent && done !== total) return;
    lastPercent = percent;
    const width = 30;
    const filled = Math.round((percent / 100) * width);
    write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent}% ${done}/${total}`);
  };
}
