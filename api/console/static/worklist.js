// A radiologist's worklist, live over worklistChanged: reading order, priority, due time and
// how far from it, the balancer's reason, and what changed since the reader last looked.
import { h, fill, clock, untilDue, priority, announce, notice, stamp } from './dom.js';

const ME = `query Me { radiologists { id code name status shift { endsAt site { code } } load { studies wrvu readMinutes } } }`;
const SET_STATUS = `mutation S($code: String!, $status: RadiologistStatus!) {
  setRadiologistStatus(input: {radiologistCode: $code, status: $status}) { __typename ... on Error { message } } }`;
const WORKLIST = `query Worklist($code: String!) {
  worklist(radiologistCode: $code) {
    position priority dueAt reason pinned opened assignedAt
    exam { id accessionNumber status patientClass
           procedure { name modality wrvu readMinutes } site { code } }
  }
}`;
const CHANGES = `subscription Changes($id: ID!) {
  worklistChanged(radiologistId: $id) {
    eventId type at actor change reason exam { id accessionNumber procedure { name } }
  }
}`;

/** What the reader saw when they last marked the list as seen: exam id -> position, name. */
function lastLook(code) {
  try {
    return JSON.parse(localStorage.getItem(`radflow.console.seen.${code}`)) || null;
  } catch {
    return null;
  }
}

function remember(code, items) {
  const seen = { at: new Date().toISOString(), items: {} };
  for (const item of items) {
    seen.items[item.exam.id] = { position: item.position, accession: item.exam.accessionNumber,
      procedure: item.exam.procedure.name };
  }
  localStorage.setItem(`radflow.console.seen.${code}`, JSON.stringify(seen));
  return seen;
}

/** Per item: new or moved since the last look; and the studies that left the list. */
export function compare(seen, items) {
  const marks = new Map();
  const present = new Set();
  for (const item of items) {
    present.add(item.exam.id);
    const before = seen.items[item.exam.id];
    if (!before) marks.set(item.exam.id, { kind: 'new', text: 'new' });
    else if (before.position !== item.position && before.position !== null && item.position !== null) {
      const by = before.position - item.position;
      marks.set(item.exam.id, { kind: 'moved', text: by > 0 ? `up ${by}` : `down ${-by}` });
    }
  }
  const gone = Object.entries(seen.items)
    .filter(([id]) => !present.has(id))
    .map(([id, was]) => ({ id, ...was }));
  return { marks, gone };
}

export function worklistView(main, api, session) {
  const code = session.subject;
  const summary = h('div', { class: 'summary', id: 'worklist-summary' });
  const table = h('div', { id: 'worklist-table' });
  const away = h('div', { id: 'moved-away' });
  const log = h('ol', { class: 'log', id: 'live-log', 'aria-label': 'Live changes' },
    h('li', { class: 'empty' }, 'Changes to your worklist appear here as they happen.'));
  const seenButton = h('button', { type: 'button', id: 'mark-seen' }, 'Mark all as seen');
  const presence = h('span', { id: 'presence' });
  const status = h('div');
  let items = [];
  let seen = lastLook(code);
  const reasons = new Map(); // exam id -> why it left (from live events)

  fill(main, h('section', { class: 'panel', 'aria-labelledby': 'wl-title' },
    h('div', { class: 'row' }, h('h2', { id: 'wl-title' }, `Worklist of ${code}`), presence, seenButton),
    summary, status, table, away),
  h('section', { class: 'panel side', 'aria-labelledby': 'log-title' },
    h('h2', { id: 'log-title' }, 'Live changes'), log));

  seenButton.addEventListener('click', () => {
    seen = remember(code, items);
    reasons.clear();
    render();
    announce('Worklist marked as seen.');
  });

  async function load() {
    const data = await api.request(WORKLIST, { code });
    items = data.worklist;
    if (!seen) seen = remember(code, items);
    render();
  }

  function render() {
    const { marks, gone } = compare(seen, items);
    const minutes = items.reduce((sum, i) => sum + i.exam.procedure.readMinutes, 0);
    const wrvu = items.reduce((sum, i) => sum + i.exam.procedure.wrvu, 0);
    fill(summary, `${items.length} studies · ${wrvu.toFixed(2)} wRVU · about ${Math.round(minutes)} min of reading · last look ${stamp(seen.at)}`);
    if (!items.length) {
      fill(table, h('p', { class: 'empty' }, 'Your worklist is empty.'));
    } else {
      fill(table, h('table', { class: 'grid', 'aria-describedby': 'worklist-summary' },
        h('caption', { class: 'sr-only' }, 'Your studies in reading order'),
        h('thead', {}, h('tr', {},
          ['#', 'Priority', 'Study', 'Due', 'Time to due', 'Why you', 'Since last look', ''].map(
            (title) => h('th', { scope: 'col' }, title)))),
        h('tbody', {}, items.map((item) => row(item, marks.get(item.exam.id))))));
    }
    fill(away, gone.length ? h('div', { class: 'card away', role: 'region', 'aria-label': 'Moved away since your last look' },
      h('h3', {}, 'Moved away since your last look'),
      h('ul', {}, gone.map((was) => h('li', { 'data-change': 'removed', 'data-accession': was.accession },
        h('strong', {}, was.accession), ` ${was.procedure}`,
        reasons.get(was.id) ? ` — ${reasons.get(was.id)}` : '')))) : null);
  }

  function row(item, mark) {
    const due = untilDue(item.dueAt);
    const exam = item.exam;
    return h('tr', { 'data-accession': exam.accessionNumber, class: item.opened ? 'opened' : '' },
      h('td', {}, item.position === null ? '—' : item.position + 1),
      h('td', {}, priority(item.priority)),
      h('td', {}, h('strong', {}, exam.accessionNumber), h('br'),
        `${exam.procedure.name} · ${exam.site.code} · ${exam.patientClass.toLowerCase()}`),
      h('td', {}, clock(item.dueAt)),
      h('td', { class: due.late ? 'late' : due.soon ? 'soon' : '' }, due.text),
      h('td', { class: 'reason' }, item.reason, item.pinned ? h('span', { class: 'tag' }, 'pinned') : null),
      h('td', {}, mark ? h('span', { class: `tag ${mark.kind}`, 'data-change': mark.kind }, mark.text) : ''),
      h('td', {}, h('a', { class: 'button', href: `#read/${encodeURIComponent(exam.id)}` },
        item.opened ? 'Continue' : 'Open', h('span', { class: 'sr-only' }, ` ${exam.accessionNumber}`))));
  }

  /** On a break or available (during a shift); the balancer moves unopened work off a break. */
  function showPresence(me) {
    if (!me.shift) {
      fill(presence, h('span', { class: 'muted' }, 'Off shift: nothing new comes to you.'));
      return;
    }
    const select = h('select', { id: 'my-status', onchange: async () => {
      const result = (await api.request(SET_STATUS, { code, status: select.value })).setRadiologistStatus;
      if (result.__typename !== 'RadiologistStatusSet') fill(status, notice(result.message));
      else announce(select.value === 'ON_BREAK' ? 'You are on a break.' : 'You are available.');
    } }, [['AVAILABLE', 'available'], ['ON_BREAK', 'on a break']].map(([value, label]) =>
      h('option', { value, selected: me.status === value }, label)));
    fill(presence, h('label', { for: 'my-status', class: 'inline-label' }, 'I am '), select,
      h('span', { class: 'muted' }, ` · shift at ${me.shift.site.code} until ${clock(me.shift.endsAt)}`));
  }

  let unsubscribe = null;
  let timer = null;
  (async () => {
    try {
      const me = (await api.request(ME)).radiologists.find((r) => r.code === code);
      if (!me) {
        fill(status, notice(`No radiologist has the code ${code}.`));
        return;
      }
      showPresence(me);
      await load();
      unsubscribe = api.subscribe(CHANGES, { id: me.id }, (data) => {
        const event = data.worklistChanged;
        if (event.exam && event.change === 'REMOVED' && event.reason) reasons.set(event.exam.id, event.reason);
        const what = event.exam ? `${event.exam.accessionNumber} ${event.exam.procedure.name}` : 'order';
        log.querySelector('.empty')?.remove();
        log.prepend(h('li', { 'data-change': event.change.toLowerCase() },
          h('time', { datetime: event.at }, clock(event.at)), ' ',
          h('strong', {}, event.change.toLowerCase()), ` ${what}`,
          event.reason ? h('span', { class: 'reason' }, ` — ${event.reason}`) : ''));
        announce(`Worklist ${event.change.toLowerCase()}: ${what}`);
        load().catch((error) => fill(status, notice(error.message)));
      }, (error) => fill(status, notice(`Live updates stopped: ${error.message}`)));
      timer = setInterval(render, 30000); // keep "time to due" current
    } catch (error) {
      fill(status, notice(error.message));
    }
  })();
  return () => {
    if (unsubscribe) unsubscribe();
    clearInterval(timer);
  };
}
