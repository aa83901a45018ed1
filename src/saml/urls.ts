/** The SP-side URLs of a connection, derived in one place from BASE_URL and the connection slug. */
export interface SpUrls {
  acsUrl: string;
  loginUrl: string;
  metadataUrl: string;
  sloUrl: string;
}

export function spUrls(baseUrl: string, connectionSlug: string): SpUrls {
  const root = `${baseUrl.replace(/\/+$/, '')}/sso/${encodeURIComponent(connectionSlug)}`;
  return {
    acsUrl: `${root}/acs`,
    loginUrl: `${root}/login`,
    metadataUrl: `${root}/metadata`,
    sloUrl: `${root}/logout`,
  };
}

/** The default SP entity ID for a new connection: its metadata URL (what Entra's "Identifier" field expects). */
export function defaultSpEntityId(baseUrl: string, connectionSlug: string): string {
  return spUrls(baseUrl, connectionSlug).metadataUrl;
}
