/**
 * Full configuration: the validated environment plus the secrets and SP keys it points to.
 * In development a missing secret is generated once and persisted (mode 0600) so restarts keep sessions and keys;
 * production refuses to start without them (enforced in parseEnv).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomSecret } from '../common/secrets';
import { generateSelfSignedKeyPair } from '../saml/certs';
import { ConfigError, parseEnv, type Settings } from './env';

export { ConfigError } from './env';

export interface Config extends Omit<Settings, 'sessionSecret' | 'adminApiKey'> {
  sessionSecret: string;
  adminApiKey: string;
  spPrivateKeyPem: string;
  spCertPem: string;
  /** What was generated or read from disk on this start, so main can say where it is. */
  origins: {
    secretsFile: string | null;
    spKeyFile: string;
    spCertFile: string;
    generatedSecrets: boolean;
    generatedSpKey: boolean;
  };
}

interface PersistedSecrets {
  sessionSecret: string;
  adminApiKey: string;
}

function writePrivateFile(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600); // writeFileSync keeps an existing file's mode
}

function loadOrCreateSecrets(file: string): { secrets: PersistedSecrets; generated: boolean } {
  if (existsSync(file)) {
    let parsed: Partial<PersistedSecrets>;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<PersistedSecrets>;
    } catch {
      throw new ConfigError('DATA_DIR', `${file} is not valid JSON; delete it to generate new development secrets`);
    }
    if (typeof parsed.sessionSecret === 'string' && typeof parsed.adminApiKey === 'string') {
      return { secrets: { sessionSecret: parsed.sessionSecret, adminApiKey: parsed.adminApiKey }, generated: false };
    }
  }
  const secrets = { sessionSecret: randomSecret(48), adminApiKey: `gh_admin_${randomSecret(32)}` };
  writePrivateFile(file, `${JSON.stringify(secrets, null, 2)}\n`);
  return { secrets, generated: true };
}

function readKeyPair(keyFile: string, certFile: string): { key: string; cert: string } {
  let key: string;
  let cert: string;
  try {
    key = readFileSync(keyFile, 'utf8');
  } catch {
    throw new ConfigError('SP_KEY_FILE', `cannot read ${keyFile}`);
  }
  try {
    cert = readFileSync(certFile, 'utf8');
  } catch {
    throw new ConfigError('SP_CERT_FILE', `cannot read ${certFile}`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new ConfigError('SP_CERT_FILE', `${certFile} is not a PEM X.509 certificate`);
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) {
      throw new ConfigError('SP_KEY_FILE', `${keyFile} does not match the certificate in ${certFile}`);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError('SP_KEY_FILE', `${keyFile} is not a PEM private key`);
  }
  return { key, cert };
}

export async function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<Config> {
  const settings = parseEnv(env);
  const dataDir = path.resolve(cwd, settings.dataDir);

  let secretsFile: string | null = null;
  let generatedSecrets = false;
  let sessionSecret = settings.sessionSecret;
  let adminApiKey = settings.adminApiKey;
  if (!sessionSecret || !adminApiKey) {
    secretsFile = path.join(dataDir, 'secrets.json');
    const loaded = loadOrCreateSecrets(secretsFile);
    generatedSecrets = loaded.generated;
    sessionSecret ??= loaded.secrets.sessionSecret;
    adminApiKey ??= loaded.secrets.adminApiKey;
  }

  let spKeyFile = settings.spKeyFile ? path.resolve(cwd, settings.spKeyFile) : path.join(cwd, 'certs', 'sp-signing.key');
  let spCertFile = settings.spCertFile ? path.resolve(cwd, settings.spCertFile) : path.join(cwd, 'certs', 'sp-signing.crt');
  let generatedSpKey = false;
  if (!settings.spKeyFile && !(existsSync(spKeyFile) && existsSync(spCertFile))) {
    const pair = await generateSelfSignedKeyPair({ commonName: new URL(settings.baseUrl).hostname, days: 3650 });
    writePrivateFile(spKeyFile, pair.privateKeyPem);
    writeFileSync(spCertFile, pair.certPem);
    generatedSpKey = true;
  }
  spKeyFile = path.resolve(spKeyFile);
  spCertFile = path.resolve(spCertFile);
  const pair = readKeyPair(spKeyFile, spCertFile);

  const { sessionSecret: _s, adminApiKey: _a, ...rest } = settings;
  return {
    ...rest,
    dataDir,
    sessionSecret,
    adminApiKey,
    spPrivateKeyPem: pair.key,
    spCertPem: pair.cert,
    origins: { secretsFile, spKeyFile, spCertFile, generatedSecrets, generatedSpKey },
  };
}
