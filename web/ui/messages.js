// Words for every stable reason code the pages can meet (docs/API.md): what
// happened and what the person can do. The code itself is shown too, small,
// for support.

const ACTION_PROMPTS = {
  blink: 'Blink once',
  open_mouth: 'Open your mouth wide',
  turn_left: 'Turn your head to your left',
  turn_right: 'Turn your head to your right',
  nod: 'Nod your head',
};

export function actionPrompt(action) {
  return ACTION_PROMPTS[action] || `Do: ${action}`;
}

const REFUSALS = {
  // Flow outcomes (the capture's summary reason).
  'asd.not_live': 'We could not confirm that a live person was in front of the camera. Use a real camera (not a video or a virtual camera), light your face well, follow each prompt, and during the colour sequence keep your face close to the screen.',
  'biometric.not_verified': 'The face did not match the face registered for this account.',
  'quality.recaptures_exhausted': 'The pictures were not good enough after several tries. Find even, bright light in front of you (not behind you) and try again.',
  // Step refusals.
  'auth.failed': 'The account and password (or this browser\'s device credential) were not accepted.',
  'auth.locked_out': 'Too many failed attempts: this account is locked for a while. Try again later.',
  'rate.limited': 'Too many attempts in a short time. Wait a minute and try again.',
  'flow.expired': 'The session expired. Start again.',
  'flow.not_found': 'The session expired or was already finished. Start again.',
  'challenge.expired': 'The challenge expired before the pictures arrived. Start again and follow the prompts without a pause.',
  'flow.nonce_mismatch': 'The pictures answered another session. Start again.',
  'seal.timestamp_out_of_window': 'This device\'s clock is wrong by more than 30 seconds. Set the date and time automatically, then try again.',
  'seal.auth_failed': 'A message was changed on its way. Check your network (a proxy?) and try again.',
  'seal.replayed': 'A message was repeated on its way. Start again.',
  'storage.flow_conflict': 'The server answered this step twice. Start again.',
  'audit.unavailable': 'The service cannot take requests right now: its security log cannot be written. Nothing was changed. Try again in a few minutes.',
  'capture.frame_too_large': 'A picture was too large for the server. Start again.',
  // The colour sequence as drawn (actions+light, the capture's `display`).
  'display.timing_mismatch': 'The screen colours could not be shown on time (the browser was busy or the tab was in the background). Close other heavy pages, keep this tab in front and start again.',
  'display.incomplete': 'The colour sequence was interrupted before it ended. Keep this tab in front during the whole capture and start again.',
  'display.outside_capture': 'The colour sequence and the pictures got out of step. Start again and keep this tab in front.',
  'display.frames_outside_sequence': 'The pictures went on past the colour sequence. Start again.',
  'display.colour_mismatch': 'This page showed colours the server did not ask for. Reload the page (it may be out of date) and start again.',
  'display.too_many_changes': 'This page changed the screen colour more often than the server asked. Reload the page and start again.',
  'display.missing': 'This step needs the screen colours this page shows; the page did not report them. Reload the page and start again.',
  'display.unexpected': 'This page reported screen colours the server did not ask for. Reload the page and start again.',
  'display.bad_colour': 'This page reported the screen colours in a form the server does not accept. Reload the page and start again.',
  'display.not_in_order': 'This page reported the screen colours out of order. Reload the page and start again.',
  'srp.server_proof_mismatch': 'The server could not prove who it is. Stop: do not enter your password here again, and contact the service.',
  'srp.group_not_allowed': 'This page does not support the server\'s security settings. Update the page.',
  // This browser.
  'client.not_registered': 'This browser holds no face login for this account. Register first, in this browser.',
  'camera.denied': 'The camera permission was refused. Allow the camera for this site in the browser\'s address bar, then start again.',
  'camera.not_found': 'No camera was found. Connect a camera, then start again.',
  'camera.in_use': 'The camera is in use by another program. Close it, then start again.',
  'camera.unsupported': 'This browser cannot open a camera on this page (it needs HTTPS and a current browser).',
  'env.timeout': 'The picture conditions were not met within 45 seconds. Follow the guidance above and start again.',
  'client.crypto_unavailable': 'This browser lacks WebCrypto or IndexedDB (private mode?). Use a current browser in a normal window.',
};

export function explainReason(reason, serverMessage = '', flow = '') {
  if (reason === 'auth.failed' && flow === 'authentication') {
    return 'This browser\'s device credential was not accepted: face login may have been removed or replaced for this account. Register this browser again.';
  }
  if (REFUSALS[reason]) return REFUSALS[reason];
  if (serverMessage) return serverMessage;
  return 'Something went wrong. Start again.';
}

export const OUTCOME_TITLES = {
  registered: 'Registered: this browser can now log you in with your face.',
  authenticated: 'Authenticated: it is you.',
  deregistered: 'Face login removed: your face data and this browser\'s credential are deleted.',
  refused: 'Refused',
  not_sent: 'Not sent',
  error: 'Error',
};

export function titleFor(outcome, reason = '') {
  if (reason.startsWith('camera.')) return 'Camera not available';
  if (reason === 'client.not_registered') return 'Not registered in this browser';
  if (reason.startsWith('env.')) return 'Not sent: the picture conditions were not met';
  return OUTCOME_TITLES[outcome] || outcome;
}
