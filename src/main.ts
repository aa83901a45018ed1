/**
 * `npm start`: load and validate config (exit 2 with one clear line when it is wrong), start the gateway,
 * say where the admin key and SP certificate are, and shut down gracefully on SIGTERM/SIGINT.
 */
import path from 'node:path';
import { createBootstrapLink } from './admin/bootstrap';
import { ConfigError, loadConfig, type Config } from './config';
import type { Store } from './store/ports';
import { createLogger } from './common/log';
import { startGateway } from './server';

async function main(): Promise<void> {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`gatehouse: invalid configuration: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const gateway = await startGateway(config, logger);
  const rel = (p: string) => path.relative(process.cwd(), p) || p;

  const lines = [
    `Gatehouse is listening on ${config.baseUrl} (store: ${gateway.store.kind}, ${config.databaseUrl.replace(/\/\/[^@/]*@/, '//***@')})`,
  ];
  if (config.origins.secretsFile) {
    lines.push(
      `Admin API key and session secret: ${rel(config.origins.secretsFile)} (mode 0600${config.origins.generatedSecrets ? ', generated now' : ''}).`,
      `  Use it as: Authorization: Bearer <adminApiKey from that file>   (set ADMIN_API_KEY to choose your own)`,
    );
  }
  lines.push(await adminConsoleLine(gateway.store, config));
  lines.push(
    `SP signing certificate: ${rel(config.origins.spCertFile)}${config.origins.generatedSpKey ? ' (generated now for development)' : ''}`,
    `Next: npx gatehouse tenant create --slug contoso --name "Contoso" && npx gatehouse connection import --tenant contoso --slug contoso-entra --metadata federationmetadata.xml`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/**
 * How to reach the admin console. Until admins can sign in by SAML (ADMIN_TENANT unset, or its tenant has no
 * connection yet) a one-time bootstrap link is printed; afterwards only the address.
 */
async function adminConsoleLine(store: Store, config: Config): Promise<string> {
  const tenant = config.adminTenant ? await store.tenants.findBySlug(config.adminTenant) : null;
  const ssoReady = tenant !== null && (await store.connections.listByTenant(tenant.id)).length > 0;
  if (ssoReady) {
    return `Admin console: ${config.baseUrl}/admin (members of ${config.adminGroup} in ${config.adminTenant} sign in by SSO; one-time link: npx gatehouse admin bootstrap)`;
  }
  const link = await createBootstrapLink(store.requestCache, config.baseUrl);
  return `Admin console: open this one-time link within 15 minutes to set up your identity provider:\n  ${link.url}`;
}

main().catch((error: unknown) => {
  process.stderr.write(`gatehouse: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
