/** Outgoing mail (SCIM token expiry alerts) through nodemailer over the SMTP server named by SMTP_URL. */
import nodemailer from 'nodemailer';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  /** smtp://user:pass@host:port or smtps://... */
  smtpUrl: string;
  from: string;
}

/** A mailer on one pooled-less SMTP transport; null when no SMTP server is configured. */
export function createMailer(options: MailerOptions | null): Mailer | null {
  if (!options) return null;
  const transport = nodemailer.createTransport(options.smtpUrl);
  return {
    async send(message) {
      await transport.sendMail({ from: options.from, to: message.to, subject: message.subject, text: message.text });
    },
    close() {
      transport.close();
    },
  };
}
