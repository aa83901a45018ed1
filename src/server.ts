/**
 * Composition root: config -> store -> SAML service -> Express app -> HTTP server, and graceful shutdown.
 */
import { createServer, type Server } from 'node:http';
import type { Config } from './config';
import { createLogger, type Logger } from './common/log';
import { createMailer } from './common/mailer';
import { checkTokenExpiry } from './scim/token-alerts';
import { createApp } from './http/app';
import { SamlService } from './saml/service';
import { createValidationPool } from './saml/validation-pool';
import { openStore } from './store';
import type { Store } from './store/ports';

export interface RunningGateway {
  server: Server;
  store: Store;
  logger: Logger;
  url: string;
  /**
   * Stops accepting connections, lets in-flight requests finish (up to graceMs), then stops the SAML validation
   * workers and closes the store.
   */
  stop(graceMs?: number): Promise<void>;
}

export async function startGateway(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningGateway> {
  const store = await openStore(config.databaseUrl, { logger });
  // node-saml's signature validation runs on SAML_WORKERS worker threads (0: on this thread).
  const validationPool = createValidationPool(config.samlWorkers, logger);
  const saml = new SamlService({
    baseUrl: config.baseUrl,
    spPrivateKeyPem: config.spPrivateKeyPem,
    spCertPem: config.spCertPem,
    replayCache: store.replayCache,
    requestCache: store.requestCache,
    logger,
    validationPool,
  });
  const { app } = createApp({
    store,
    saml,
    logger,
    baseUrl: config.baseUrl,
    sessionSecret: config.sessionSecret,
    adminApiKey: config.adminApiKey,
    sessionIdleMs: config.sessionIdleMs,
    sessionAbsoluteMs: config.sessionAbsoluteMs,
    trustProxy: config.trustProxy,
    allowPrivateMetadataUrls: config.allowPrivateMetadataUrls,
    acsRateLimitPerMinute: config.acsRateLimitPerMinute,
    adminTenant: config.adminTenant,
    adminGroup: config.adminGroup,
    spCertPem: config.spCertPem,
    scimRateLimitPerMinute: config.scimRateLimitPerMinute,
  });

  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const s = createServer(app).listen(config.port, config.host, () => resolve(s));
      s.once('error', reject);
    });
  } catch (error) {
    await validationPool?.close();
    throw error;
  }
  // Slow-loris guard and a keep-alive shorter than typical load balancer idle timeouts' inverse.
  server.requestTimeout = 30_000;
  server.headersTimeout = 20_000;

  // The store purges its own expired caches and sessions; the provisioning log is trimmed by retention here.
  const trimEvents = () =>
    store.events
      .deleteOlderThan(new Date(Date.now() - config.eventRetentionMs))
      .catch((error: unknown) => logger.warn({ err: error }, 'provisioning-log retention failed'));
  const purge = setInterval(() => void trimEvents(), 3_600_000);
  purge.unref();

  // SCIM token expiry alerts (30, 7 and 1 days before): checked soon after start, then hourly. Idempotent per
  // threshold and token, so several instances may all run it.
  const mailer = createMailer(config.smtp ? { smtpUrl: config.smtp.url, from: config.smtp.from } : null);
  const checkTokens = () =>
    checkTokenExpiry({ store, mailer, logger, baseUrl: config.baseUrl }).catch((error: unknown) =>
      logger.warn({ err: error }, 'SCIM token expiry check failed'),
    );
  const firstTokenCheck = setTimeout(() => void checkTokens(), 10_000);
  firstTokenCheck.unref();
  const tokenChecks = setInterval(() => void checkTokens(), 3_600_000);
  tokenChecks.unref();

  let stopping: Promise<void> | null = null;
  const stop = (graceMs = 10_000): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(purge);
      clearTimeout(firstTokenCheck);
      clearInterval(tokenChecks);
      mailer?.close();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      await validationPool?.close();
      await store.close();
    })();
    return stopping;
  };

  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return { server, store, logger, url: `http://127.0.0.1:${port}`, stop };
}
