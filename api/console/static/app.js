// The console: sign in, then the views the token's role may use, routed by the URL's hash.
import { Api } from './graphql.js';
import { h, fill } from './dom.js';
import * as session from './session.js';
import { signIn } from './signin.js';
import { worklistView } from './worklist.js';
import { readView } from './read.js';
import { boardView } from './board.js';
import { rulesView } from './rules.js';
import { metricsView } from './metrics.js';
import { criticalView, watchCritical, awaiting, onCritical } from './critical.js';

const RENDER = {
  worklist: worklistView,
  board: boardView,
  rules: rulesView,
  metrics: metricsView,
  critical: criticalView,
};

const state = { api: null, session: null, views: [], cleanup: null };

async function start() {
  const manifest = await (await fetch('./views.json')).json();
  state.allViews = manifest.views;
  document.getElementById('signout').addEventListener('click', () => leave('signed out'));
  window.addEventListener('hashchange', route);
  const existing = session.current();
  if (existing && !session.expired(existing)) enter(existing);
  else leave(existing ? 'expired' : null);
}

/** Signed in: offer the role's views and show the one the hash names. */
function enter(current) {
  state.session = current;
  state.api = new Api(current.token, (reason) => leave(reason));
  state.views = state.allViews.filter((view) => view.roles.includes(current.role));
  fill(document.getElementById('whoami'), `${current.subject} · ${current.role}`);
  document.getElementById('signout').hidden = false;
  const nav = document.getElementById('nav');
  fill(nav, state.views.map((view) => h('a', { href: `#${view.id}`, 'data-view': view.id }, view.title)));
  if (state.views.some((view) => view.id === 'critical')) {
    const alert = h('a', { href: '#critical', id: 'critical-alert', class: 'alert', hidden: true });
    nav.append(alert);
    const show = () => {
      const count = awaiting();
      alert.hidden = count === 0;
      fill(alert, `${count} critical result${count === 1 ? '' : 's'} awaiting acknowledgement`);
    };
    const stopWatching = watchCritical(state.api, (error) => {
      alert.hidden = false;
      fill(alert, `Critical results are not live: ${error.message}`);
    });
    const stopListening = onCritical(show);
    state.stopCritical = () => { stopWatching(); stopListening(); };
  }
  if (current.expiresAt) {
    const left = current.expiresAt - Date.now();
    state.expiry = setTimeout(() => leave('expired'), Math.min(left, 2 ** 31 - 1));
  }
  route();
}

/** Back to sign-in, saying why (`expired`, a server's refusal, or nothing). */
function leave(reason) {
  clearTimeout(state.expiry);
  if (state.stopCritical) state.stopCritical();
  state.stopCritical = null;
  if (state.cleanup) state.cleanup();
  state.cleanup = null;
  if (state.api) state.api.close();
  state.api = null;
  session.clear();
  fill(document.getElementById('nav'));
  fill(document.getElementById('whoami'));
  document.getElementById('signout').hidden = true;
  const main = document.getElementById('main');
  signIn(main, reason, (token) => {
    session.save(token);
    const current = session.current();
    if (!current) return;
    if (!location.hash || location.hash === '#signin') history.replaceState(null, '', '#');
    enter(current);
  });
}

function route() {
  if (!state.api) return;
  const [name, arg] = location.hash.replace(/^#/, '').split('/');
  if (state.cleanup) state.cleanup();
  state.cleanup = null;
  const main = document.getElementById('main');
  fill(main);
  let view = state.views.find((v) => v.id === name);
  if (name === 'read' && state.views.some((v) => v.id === 'worklist')) {
    view = { id: 'worklist' };
    markCurrent('worklist');
    state.cleanup = readView(main, state.api, state.session, decodeURIComponent(arg || ''));
    return;
  }
  if (!view) {
    if (!state.views.length) {
      fill(main, h('section', { class: 'panel' }, h('h2', {}, 'Nothing to show'),
        h('p', {}, `The console has no view for the ${state.session.role} role. `,
          'Use the GraphQL API directly, or sign in as a radiologist or supervisor.')));
      return;
    }
    location.replace(`#${state.views[0].id}`);
    return;
  }
  markCurrent(view.id);
  state.cleanup = RENDER[view.id](main, state.api, state.session) || null;
  // Keyboard and screen reader users land on the new content, not on a removed control.
  if (!main.contains(document.activeElement)) main.focus();
}

function markCurrent(id) {
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.view === id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const title = state.allViews.find((v) => v.id === id)?.title || 'console';
  document.title = `${title} · radflow console`;
}

start();
