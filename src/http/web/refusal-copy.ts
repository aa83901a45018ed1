/**
 * What an END USER reads when a sign-in is refused: what happened and what to do, in plain words. The technical
 * reason (REFUSAL_REASONS, PROVISIONING_REFUSALS) stays for the admin: the page shows its code and a reference
 * the admin finds in the provisioning log.
 *
 * The Record types make the compiler insist on copy for every refusal reason, so a new reason cannot ship without it.
 */
import type { ProvisioningRefusalReason } from '../../provisioning/identity';
import type { RefusalReason } from '../../saml/refusal';

export interface EndUserCopy {
  /** The page heading: what happened. */
  title: string;
  /** One or two sentences explaining it. */
  explanation: string;
  /** What the person can do next. */
  whatToDo: string;
  /** Offer "Sign in again": only where trying again can help. */
  retry: boolean;
}

const TRY_AGAIN = 'Go back to the application and sign in again. If it keeps happening, contact your IT administrator and give them the reference below.';
const ASK_IT = 'This needs your IT administrator: send them the reference below so they can find this attempt and fix it. Trying again will not help until they do.';

/** Problems with the sign-in setup between the organisation and this application: only IT can fix them. */
const setupProblem = (explanation: string): EndUserCopy => ({ title: 'Sign-in isn’t set up correctly', explanation, whatToDo: ASK_IT, retry: false });
/** A response we could not read: usually a one-off problem on the way; a new attempt usually works. */
const unreadable = (explanation: string): EndUserCopy => ({ title: 'We couldn’t read the sign-in response', explanation, whatToDo: TRY_AGAIN, retry: true });

export const SAML_REFUSAL_COPY: Record<RefusalReason, EndUserCopy> = {
  unknown_connection: {
    title: 'This sign-in link doesn’t work',
    explanation: 'The link you followed points to a sign-in that does not exist here. It may be mistyped or out of date.',
    whatToDo: 'Sign in with your work email instead, or ask your IT team for the current link.',
    retry: true,
  },
  missing_response: unreadable('Your browser arrived here without the sign-in details from your organisation.'),
  too_large: unreadable('The sign-in details sent by your organisation were larger than this application accepts.'),
  not_base64: unreadable('The sign-in details sent by your organisation were damaged on the way.'),
  not_xml: unreadable('The sign-in details sent by your organisation were damaged on the way.'),
  doctype_forbidden: unreadable('The sign-in details contained content that is never allowed, so we stopped for your safety.'),
  malformed_response: unreadable('The sign-in details sent by your organisation were not in the expected format.'),
  multiple_assertions: unreadable('The sign-in details sent by your organisation were not in the expected format.'),
  encrypted_assertion_unsupported: setupProblem('Your organisation sent the sign-in details encrypted, which this application is not set up to accept.'),
  status_not_success: {
    title: 'Your organisation didn’t complete the sign-in',
    explanation: 'Your organisation’s sign-in page reported that the sign-in did not succeed, for example because it was cancelled, a password or second factor was not accepted, or your account may not use this application.',
    whatToDo: 'Try again and finish every step on your organisation’s sign-in page. If it keeps failing, contact your IT administrator with the reference below.',
    retry: true,
  },
  unknown_issuer: setupProblem('The sign-in came from a different identity provider than the one this application trusts for your organisation.'),
  signature_missing: setupProblem('The sign-in details were not signed the way this application requires, so they cannot be trusted.'),
  signature_invalid: setupProblem('The sign-in details carried a signature this application cannot verify. This often happens after your organisation renews its signing certificate.'),
  weak_algorithm: setupProblem('The sign-in details were protected with an outdated method this application does not accept.'),
  audience_mismatch: setupProblem('The sign-in details were meant for a different application.'),
  destination_mismatch: setupProblem('The sign-in details were addressed to a different web address than this one.'),
  recipient_mismatch: setupProblem('The sign-in details were addressed to a different web address than this one.'),
  expired: {
    title: 'Your sign-in took too long',
    explanation: 'The sign-in details from your organisation expired before they reached us. This can happen when a page was left open, or when a computer’s clock is wrong.',
    whatToDo: 'Start again from the application; it usually works the second time. If it keeps happening, tell your IT administrator (the reference below helps them).',
    retry: true,
  },
  not_yet_valid: {
    title: 'Your sign-in arrived too early',
    explanation: 'The sign-in details are dated in the future, which usually means a server clock is wrong.',
    whatToDo: 'Wait a minute and sign in again. If it keeps happening, contact your IT administrator with the reference below.',
    retry: true,
  },
  replayed: {
    title: 'This sign-in was already used',
    explanation: 'Each sign-in can be used only once. This one had already been used, for example because the page was refreshed or the back button was pressed.',
    whatToDo: 'Start a new sign-in from the application.',
    retry: true,
  },
  unknown_in_response_to: {
    title: 'This sign-in has expired',
    explanation: 'The sign-in you started is no longer waiting for an answer: it was completed in another tab, or it was started too long ago.',
    whatToDo: 'Start a new sign-in from the application.',
    retry: true,
  },
  unsolicited_response: {
    title: 'Start your sign-in from the application',
    explanation: 'Signing in from your organisation’s app portal (for example the Microsoft My Apps tile) is turned off for this application.',
    whatToDo: 'Open the application’s own address and sign in from there.',
    retry: true,
  },
  missing_subject: setupProblem('Your organisation did not say who you are in the sign-in details.'),
  invalid_assertion: unreadable('The sign-in details from your organisation did not pass our checks.'),
};

export const PROVISIONING_REFUSAL_COPY: Record<ProvisioningRefusalReason, EndUserCopy> = {
  missing_username: setupProblem('Your organisation did not send the detail (user name or email) this application identifies people by.'),
  domain_not_owned: {
    title: 'This account can’t be used here',
    explanation: 'You signed in with an account whose email domain does not belong to the organisation this sign-in is for.',
    whatToDo: 'Sign out of your organisation’s page and sign in with your work account. If you believe this account should work, contact your IT administrator.',
    retry: true,
  },
  jit_disabled: {
    title: 'You don’t have an account here yet',
    explanation: 'Your organisation recognised you, but no account exists for you in this application, and accounts are not created automatically.',
    whatToDo: 'Ask your IT administrator to give you access to this application.',
    retry: false,
  },
  user_disabled: {
    title: 'Your account is disabled',
    explanation: 'Your organisation recognised you, but your account in this application has been turned off.',
    whatToDo: 'If you think you should have access, contact your IT administrator.',
    retry: false,
  },
  username_taken: setupProblem('Your sign-in would change your user name to one that another account already uses.'),
  not_in_required_group: {
    title: 'You don’t have access to this application',
    explanation: 'Only members of certain groups in your organisation may use this application, and your account is not in any of them.',
    whatToDo: 'Ask your IT administrator to add you to a group that grants access, then sign in again.',
    retry: false,
  },
};

const OTHER_COPY: Record<string, EndUserCopy> = {
  rate_limited: {
    title: 'Too many sign-in attempts',
    explanation: 'There were too many sign-in attempts from your network in a short time.',
    whatToDo: 'Wait a minute, then try again.',
    retry: true,
  },
  not_found: { title: 'Page not found', explanation: 'There is nothing at this address.', whatToDo: 'Check the address, or go back to the start.', retry: false },
  admin_forbidden: {
    title: 'This page is for administrators',
    explanation: 'You are signed in, but your account is not an administrator here: it is not in the group that may use the Gatehouse admin console.',
    whatToDo: 'If you should have access, ask your IT administrator to add you to the admin group, then sign in again.',
    retry: false,
  },
  csrf_failed: {
    title: 'This form has expired',
    explanation: 'The form was sent from a page that was open too long, or from somewhere other than this site, so nothing was changed.',
    whatToDo: 'Go back, reload the page and send the form again.',
    retry: false,
  },
  internal_error: {
    title: 'Something went wrong on our side',
    explanation: 'The application hit an unexpected problem. It was logged.',
    whatToDo: 'Try again in a moment. If it keeps happening, give your IT administrator the reference below.',
    retry: true,
  },
};

/**
 * What an end user reads when a single logout message (a LogoutRequest from their organisation, or its answer to
 * ours) is refused. The reason codes are the sign-in ones; the copy speaks of signing out.
 */
export function logoutRefusalCopy(reason: RefusalReason): EndUserCopy {
  const explanation: Partial<Record<RefusalReason, string>> = {
    unknown_connection: 'The sign-out link you followed points to a sign-in that does not exist here.',
    expired: 'The sign-out message from your organisation expired before it reached us, or a server clock is wrong.',
    not_yet_valid: 'The sign-out message from your organisation is dated in the future, which usually means a server clock is wrong.',
    replayed: 'This sign-out message had already been used.',
    unknown_in_response_to: 'This sign-out confirmation does not answer a sign-out started here, or it was already used or has expired.',
    status_not_success: 'Your organisation reported that it could not complete the sign-out, so you may still be signed in there.',
  };
  return {
    title: 'We couldn’t complete the sign-out',
    explanation: explanation[reason] ?? 'The sign-out message from your organisation did not pass our checks, so it was ignored.',
    whatToDo: 'To be sure you are signed out, close your browser. If this keeps happening, give your IT administrator the reference below.',
    retry: false,
  };
}

/** The end-user copy of an error code; for codes without their own copy, the (already safe) message. */
export function endUserCopy(code: string, message: string): EndUserCopy {
  if (Object.hasOwn(SAML_REFUSAL_COPY, code)) return SAML_REFUSAL_COPY[code as RefusalReason];
  if (Object.hasOwn(PROVISIONING_REFUSAL_COPY, code)) return PROVISIONING_REFUSAL_COPY[code as ProvisioningRefusalReason];
  if (Object.hasOwn(OTHER_COPY, code)) return OTHER_COPY[code]!;
  return { title: 'Something went wrong', explanation: message, whatToDo: 'Go back and try again.', retry: false };
}
