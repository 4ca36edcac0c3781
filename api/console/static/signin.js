// Sign-in: a demo user of any role (development servers only), or a pasted token.
import { h, fill, notice } from './dom.js';
import { describe, expired } from './session.js';

const ROLES = ['radiologist', 'supervisor', 'admin', 'integration', 'referrer', 'scheduler',
  'technologist', 'patient'];

const REASONS = {
  expired: 'Your sign-in has expired. Sign in again to continue.',
  'signed out': 'You are signed out.',
};

export function signIn(main, reason, onToken) {
  const demoRole = h('select', { id: 'demo-role', name: 'role' },
    ROLES.map((role) => h('option', { value: role }, role)));
  const demoSubject = h('input', { id: 'demo-subject', name: 'subject', autocomplete: 'off',
    placeholder: 'demo user (e.g. RAD03)', 'aria-describedby': 'demo-help' });
  const demoStatus = h('div', { id: 'demo-status' });
  const pasted = h('textarea', { id: 'token', name: 'token', rows: 4, spellcheck: 'false',
    'aria-describedby': 'token-help' });
  const pasteStatus = h('div', { id: 'token-status' });

  async function demo(event) {
    event.preventDefault();
    fill(demoStatus);
    const response = await fetch('./demo-token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ role: demoRole.value, subject: demoSubject.value.trim() || null }),
    }).catch(() => null);
    if (!response || response.status === 404 || response.status === 405) {
      fill(demoStatus, notice('This server offers no demo sign-in (production): paste a token.'));
      return;
    }
    const body = await response.json();
    if (!response.ok) {
      fill(demoStatus, notice(body.error || 'The demo sign-in failed.'));
      return;
    }
    onToken(body.token);
  }

  function paste(event) {
    event.preventDefault();
    fill(pasteStatus);
    const token = pasted.value.trim().replace(/^Bearer\s+/i, '');
    try {
      const described = describe(token);
      if (expired(described)) {
        fill(pasteStatus, notice(`This token expired at ${new Date(described.expiresAt).toLocaleString()}. Mint a new one.`));
        return;
      }
    } catch (error) {
      fill(pasteStatus, notice(`This is not a usable token: ${error.message}.`));
      return;
    }
    onToken(token);
  }

  fill(main, h('section', { class: 'signin panel', 'aria-labelledby': 'signin-title' },
    h('h2', { id: 'signin-title' }, 'Sign in'),
    reason ? notice(REASONS[reason] || `Signed out: ${reason}.`, reason === 'signed out' ? 'info' : 'error') : null,
    h('div', { class: 'columns' },
      h('form', { class: 'card', onsubmit: demo, 'aria-labelledby': 'demo-title' },
        h('h3', { id: 'demo-title' }, 'Demo user (development)'),
        h('label', { for: 'demo-role' }, 'Role'), demoRole,
        h('label', { for: 'demo-subject' }, 'User (optional)'), demoSubject,
        h('p', { id: 'demo-help', class: 'help' },
          'Leave empty for the demo department\'s user of that role; a radiologist is their code (RAD01 to RAD12).'),
        h('button', { type: 'submit', class: 'primary' }, 'Sign in as demo user'),
        demoStatus),
      h('form', { class: 'card', onsubmit: paste, 'aria-labelledby': 'paste-title' },
        h('h3', { id: 'paste-title' }, 'Paste a token'),
        h('label', { for: 'token' }, 'Bearer token'), pasted,
        h('p', { id: 'token-help', class: 'help' },
          'A token from your identity provider, or `radflow token --role supervisor` in development. It is kept in this tab only.'),
        h('button', { type: 'submit', class: 'primary' }, 'Sign in with token'),
        pasteStatus))));
  demoRole.focus();
}
