/**
 * SCIM token expiry alerts: 30, 7 and 1 days before a long-lived token expires, an email to the connection's
 * notification address (when one is set and SMTP is configured), a provisioning-log event, and the connection's
 * "token expiring" flag (a token with an alert sent for its current expiry; see expiringTokenFlag). Each threshold
 * alerts once per token and expiry: the store's claimAlert is the idempotency guard, also across instances; a mail
 * that fails is released and retried by the next check. Extending a token resets its alerts.
 */
import type { Logger } from '../common/log';
import type { Mailer } from '../common/mailer';
import { scimSettingsOf } from '../provisioning/types';
import type { ScimToken, Store } from '../store/ports';

export const ALERT_THRESHOLDS_DAYS = [30, 7, 1] as const;
const DAY_MS = 86_400_000;

export interface AlertCheckOptions {
  store: Store;
  mailer: Mailer | null;
  logger?: Logger;
  /** Where the admin manages the connection (in the mail). */
  baseUrl: string;
  now?: Date;
}

export interface AlertSent {
  tokenId: string;
  connectionId: string;
  threshold: number;
  emailed: boolean;
}

/** The smallest threshold a token has reached (its days left are at or below it); undefined when none. */
export function thresholdReached(expiresAt: Date, now: Date): number | undefined {
  const daysLeft = (expiresAt.getTime() - now.getTime()) / DAY_MS;
  const reached = ALERT_THRESHOLDS_DAYS.filter((t) => daysLeft <= t);
  return reached.length > 0 ? Math.min(...reached) : undefined;
}

/** Runs one check; returns the alerts sent now. Safe to run concurrently and repeatedly. */
export async function checkTokenExpiry(options: AlertCheckOptions): Promise<AlertSent[]> {
  const { store, mailer, logger } = options;
  const now = options.now ?? new Date();
  const sent: AlertSent[] = [];
  const tokens = await store.scimTokens.listExpiring(now, new Date(now.getTime() + Math.max(...ALERT_THRESHOLDS_DAYS) * DAY_MS));
  for (const token of tokens) {
    const threshold = thresholdReached(token.expiresAt, now);
    if (threshold === undefined || token.alertsSent.includes(threshold)) continue;
    if (!(await store.scimTokens.claimAlert(token.id, threshold))) continue;
    // The larger thresholds are passed: a token first seen 5 days out gets one alert (7 days), not two.
    for (const larger of ALERT_THRESHOLDS_DAYS.filter((t) => t > threshold)) await store.scimTokens.claimAlert(token.id, larger);
    try {
      const emailed = await notify(options, token, threshold, now);
      sent.push({ tokenId: token.id, connectionId: token.connectionId, threshold, emailed });
    } catch (error) {
      await store.scimTokens.releaseAlert(token.id, threshold);
      logger?.warn({ err: error, tokenId: token.id }, 'SCIM token expiry alert could not be sent; will retry');
      await store.events.append({
        tenantId: token.tenantId,
        connectionId: token.connectionId,
        channel: 'scim',
        type: 'scim_token_expiring',
        outcome: 'error',
        subject: token.prefix,
        reason: 'mail_failed',
        details: { tokenId: token.id, threshold, expiresAt: token.expiresAt.toISOString() },
        at: now,
      });
    }
  }
  // Access tokens from the OAuth grant are useless once expired: keep the table small.
  await store.scimTokens.deleteExpiredAccess(new Date(now.getTime() - DAY_MS));
  return sent;
}

async function notify(options: AlertCheckOptions, token: ScimToken, threshold: number, now: Date): Promise<boolean> {
  const { store, mailer } = options;
  const connection = await store.connections.findById(token.connectionId);
  const to = connection ? scimSettingsOf(connection.settings).notificationEmail : null;
  const daysLeft = Math.max(0, Math.ceil((token.expiresAt.getTime() - now.getTime()) / DAY_MS));
  let emailed = false;
  if (mailer && to && connection) {
    await mailer.send({
      to,
      subject: `Gatehouse: the SCIM token ${token.prefix}... of ${connection.name} expires in ${daysLeft} day${daysLeft === 1 ? '' : 's'}`,
      text: [
        `The SCIM provisioning token ${token.prefix}... of the connection "${connection.name}" (${connection.slug}) expires on ${token.expiresAt.toISOString()}.`,
        '',
        'When it expires, your identity provider can no longer provision users and groups.',
        `Extend it:  gatehouse scim-token extend ${token.id} --connection ${connection.slug}`,
        `or create a new one (POST ${options.baseUrl}/api/connections/${connection.id}/scim-tokens) and paste it into the`,
        "identity provider's provisioning settings (Entra ID: Provisioning > Admin Credentials > Secret Token).",
      ].join('\n'),
    });
    emailed = true;
  }
  await store.events.append({
    tenantId: token.tenantId,
    connectionId: token.connectionId,
    channel: 'scim',
    type: 'scim_token_expiring',
    outcome: 'info',
    subject: token.prefix,
    reason: `expires_in_${threshold}d`,
    details: { tokenId: token.id, threshold, expiresAt: token.expiresAt.toISOString(), emailed, to: emailed ? to : null },
    at: now,
  });
  return emailed;
}

/** The connection's "token expiring" flag: its active tokens that have had an expiry alert for their current expiry. */
export async function expiringTokenFlag(store: Store, connectionId: string, now = new Date()): Promise<{ tokenId: string; prefix: string; expiresAt: string }[]> {
  return (await store.scimTokens.listByConnection(connectionId))
    .filter((t) => !t.revokedAt && t.expiresAt.getTime() > now.getTime() && t.alertsSent.length > 0)
    .map((t) => ({ tokenId: t.id, prefix: t.prefix, expiresAt: t.expiresAt.toISOString() }));
}
