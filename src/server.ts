/**
 * Composition root: config -> store -> SAML service -> Express app -> HTTP server, and graceful shutdown.
 */
import type { Server } from 'node:http';
import type { Config } from './config';
import { createLogger, type Logger } from './common/log';
import { createApp } from './http/app';
import { SamlService } from './saml/service';
import { openStore } from './store';
import type { Store } from './store/ports';

export interface RunningGateway {
  server: Server;
  store: Store;
  logger: Logger;
  url: string;
  /** Stops accepting connections, lets in-flight requests finish (up to graceMs), then closes the store. */
  stop(graceMs?: number): Promise<void>;
}

export async function startGateway(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<RunningGateway> {
  const store = await openStore(config.databaseUrl, { logger });
  const saml = new SamlService({
    baseUrl: config.baseUrl,
    spPrivateKeyPem: config.spPrivateKeyPem,
    spCertPem: config.spCertPem,
    replayCache: store.replayCache,
    requestCache: store.requestCache,
    logger,
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
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
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

  let stopping: Promise<void> | null = null;
  const stop = (graceMs = 10_000): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(purge);
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
      await store.close();
    })();
    return stopping;
  };

  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return { server, store, logger, url: `http://127.0.0.1:${port}`, stop };
}
