// The supervisor's board: every reader with their load as bars, status and shift controls,
// pins, the studies nobody can take and why, and the balancer's last runs; live over
// balancerRan (every committed re-plan) and the worklistChanged of the reader opened below.
import { h, fill, bar, clock, stamp, duration, priority, announce, notice, untilDue } from './dom.js';

const BOARD = `query Board {
  sites { id code name }
  radiologists {
    id code name status wrvuPerHour subspecialties
    shift { startsAt endsAt site { code } }
    load { studies wrvu readMinutes }
  }
  balancerStatus {
    leading leader { replica epoch }
    recentRuns { startedAt durationMs trigger moved assigned objective { name value } }
    lastRun { unassignable { reason exam { id accessionNumber priority dueAt procedure { name } site { code } } } }
    strandedReads { radiologistCode absent releaseDueAt exam { accessionNumber } }
  }
}`;
const WORKLIST = `query Worklist($code: String!) { worklist(radiologistCode: $code) {
  position priority dueAt reason pinned opened exam { id accessionNumber procedure { name } } } }`;
const RAN = `subscription { balancerRan { eventId at moved assigned unassignable durationMs } }`;
const CHANGED = `subscription Changed($id: ID!) { worklistChanged(radiologistId: $id) { eventId change } }`;
const FIND = `query Find($accession: String!) { exam(accessionNumber: $accession) { id accessionNumber status } }`;
const ERR = `... on Error { __typename message } ... on ValidationFailed { errors { message } }`;
const MUTATIONS = {
  status: `mutation S($code: String!, $status: RadiologistStatus!) { setRadiologistStatus(input: {radiologistCode: $code, status: $status}) { __typename ${ERR} } }`,
  start: `mutation St($code: String!, $site: String!, $ends: DateTime!) { startShift(input: {radiologistCode: $code, siteCode: $site, endsAt: $ends}) { __typename ${ERR} } }`,
  end: `mutation E($code: String!) { endShift(input: {radiologistCode: $code}) { __typename ${ERR} } }`,
  pin: `mutation P($exam: ID!, $code: String!, $reason: String!) { pinAssignment(input: {examId: $exam, radiologistCode: $code, reason: $reason}) { __typename ... on AssignmentPinned { read { reason } } ${ERR} } }`,
  unpin: `mutation U($exam: ID!) { unpinAssignment(input: {examId: $exam}) { __typename ${ERR} } }`,
  rebalance: `mutation { rebalanceNow { run { moved durationMs } stale } }`,
};
const OK = new Set(['RadiologistStatusSet', 'ShiftStarted', 'ShiftEnded', 'AssignmentPinned', 'AssignmentUnpinned']);

export function boardView(main, api) {
  const status = h('div', { id: 'board-status' });
  const readers = h('div', { id: 'readers' });
  const detail = h('div', { id: 'reader-detail' });
  const unassignable = h('div', { id: 'unassignable' });
  const runs = h('div', { id: 'runs' });
  let data = null;
  let selected = null;
  let unsubscribeReader = null;

  fill(main,
    h('section', { class: 'panel wide', 'aria-labelledby': 'readers-title' },
      h('div', { class: 'row' }, h('h2', { id: 'readers-title' }, 'Readers'),
        h('button', { type: 'button', id: 'rebalance', onclick: () => act('rebalance', {}) }, 'Re-plan now')),
      status, readers, detail),
    h('section', { class: 'panel', 'aria-labelledby': 'unassignable-title' },
      h('h2', { id: 'unassignable-title' }, 'Nobody can take'), unassignable),
    h('section', { class: 'panel', 'aria-labelledby': 'runs-title' },
      h('h2', { id: 'runs-title' }, 'Balancer runs'), runs));

  async function load() {
    data = await api.request(BOARD);
    render();
    if (selected) await openReader(selected, false);
  }

  async function act(kind, variables, success) {
    fill(status);
    try {
      const result = Object.values(await api.request(MUTATIONS[kind], variables))[0];
      if (kind === 'rebalance') {
        fill(status, notice(`Re-planned: ${result.run.moved} moved in ${result.run.durationMs.toFixed(0)} ms.`, 'info'));
      } else if (!OK.has(result.__typename)) {
        const details = (result.errors || []).map((e) => e.message).join('; ');
        fill(status, notice(`${result.message}${details ? ` (${details})` : ''}`));
        return;
      } else if (success) {
        fill(status, notice(success(result), 'info'));
      }
      announce('Done.');
      await load();
    } catch (error) {
      fill(status, notice(error.message));
    }
  }

  function render() {
    const now = Date.now();
    const onShift = data.radiologists.filter((r) => r.shift);
    const off = data.radiologists.filter((r) => !r.shift);
    const maxStudies = Math.max(1, ...onShift.map((r) => r.load.studies));
    const maxWrvu = Math.max(1, ...onShift.map((r) => r.load.wrvu));
    fill(readers, h('table', { class: 'grid readers' },
      h('caption', { class: 'sr-only' }, 'Readers on shift and their load'),
      h('thead', {}, h('tr', {}, ['Reader', 'Status', 'Studies', 'wRVU', 'Reading vs shift left', 'Shift', '']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {},
        onShift.map((r) => {
          const left = Math.max(0, (new Date(r.shift.endsAt).getTime() - now) / 60000);
          return h('tr', { 'data-reader': r.code, class: selected === r.code ? 'selected' : '' },
            h('th', { scope: 'row' }, h('button', { type: 'button', class: 'link', 'aria-expanded': selected === r.code ? 'true' : 'false',
              onclick: () => openReader(r.code, true) }, r.code), h('br'), h('span', { class: 'muted' }, `${r.name} · ${r.subspecialties.join(', ').toLowerCase()}`)),
            h('td', {}, statusControl(r)),
            h('td', {}, bar(r.load.studies, maxStudies, `${r.code} studies`, { warn: 2 }), `${r.load.studies}`),
            h('td', {}, bar(r.load.wrvu, maxWrvu, `${r.code} wRVU`, { warn: 2 }), r.load.wrvu.toFixed(2)),
            h('td', {}, bar(r.load.readMinutes, left, `${r.code} reading minutes against minutes left in shift`),
              `${duration(r.load.readMinutes)} of ${duration(left)} left`),
            h('td', {}, `${r.shift.site.code} until ${clock(r.shift.endsAt)}`),
            h('td', {}, h('button', { type: 'button', onclick: () => act('end', { code: r.code }) }, 'End shift',
              h('span', { class: 'sr-only' }, ` of ${r.code}`))));
        }))),
    off.length ? h('details', { class: 'off' }, h('summary', {}, `Off shift (${off.length})`),
      h('ul', { class: 'plain' }, off.map((r) => h('li', {}, startControl(r))))) : null);

    const items = data.balancerStatus.lastRun?.unassignable || [];
    fill(unassignable, items.length ? h('ul', { class: 'plain' }, items.map((u) => h('li', {},
      u.exam ? [priority(u.exam.priority), ' ', h('strong', {}, u.exam.accessionNumber), ` ${u.exam.procedure.name} (${u.exam.site.code}) `] : 'a study ',
      h('span', { class: 'reason' }, `— ${u.reason}`)))) : h('p', { class: 'empty' }, 'Every open study has a reader.'),
    data.balancerStatus.strandedReads.length ? [h('h3', {}, 'Opened by an absent reader'),
      h('ul', { class: 'plain' }, data.balancerStatus.strandedReads.map((s) => h('li', {},
        `${s.exam.accessionNumber}: ${s.radiologistCode} ${s.absent}${s.releaseDueAt ? `, released ${clock(s.releaseDueAt)}` : ''}`)))] : null);

    const leader = data.balancerStatus.leader;
    fill(runs, h('p', { class: 'muted' }, leader ? `Leader ${leader.replica} (epoch ${leader.epoch})` : 'No leader elected'),
      h('table', { class: 'grid compact' },
        h('thead', {}, h('tr', {}, ['When', 'Trigger', 'ms', 'Assigned', 'Moved', 'Objective'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, data.balancerStatus.recentRuns.map((run) => {
          const total = run.objective.find((t) => t.name === 'total');
          return h('tr', {},
            h('td', {}, clock(run.startedAt)), h('td', { class: 'trigger' }, run.trigger),
            h('td', {}, run.durationMs.toFixed(0)), h('td', {}, run.assigned), h('td', {}, run.moved),
            h('td', { class: 'terms' }, h('details', { class: 'terms' },
              h('summary', {}, total ? `total ${Number(total.value).toFixed(0)}` : 'terms'),
              h('ul', {}, run.objective.filter((t) => t.name !== 'total').map((t) => h('li', {}, `${t.name} ${Number(t.value).toFixed(1)}`))))));
        }))));
  }

  function statusControl(r) {
    const select = h('select', { 'aria-label': `Status of ${r.code}`, onchange: () => act('status', { code: r.code, status: select.value }) },
      ['AVAILABLE', 'ON_BREAK'].map((s) => h('option', { value: s, selected: r.status === s }, s === 'AVAILABLE' ? 'available' : 'on break')));
    return select;
  }

  function startControl(r) {
    const site = h('select', { 'aria-label': `Site for ${r.code}` }, data.sites.map((s) => h('option', { value: s.code }, s.code)));
    const hours = h('input', { type: 'number', min: 1, max: 24, value: 8, 'aria-label': `Hours for ${r.code}`, class: 'narrow' });
    return h('span', {}, h('strong', {}, r.code), ` ${r.name} `, site, ' for ', hours, ' h ',
      h('button', { type: 'button', onclick: () => act('start', { code: r.code, site: site.value,
        ends: new Date(Date.now() + Number(hours.value) * 3600000).toISOString() }) }, 'Start shift',
      h('span', { class: 'sr-only' }, ` of ${r.code}`)));
  }

  async function openReader(code, toggle) {
    if (toggle && selected === code) {
      selected = null;
      if (unsubscribeReader) unsubscribeReader();
      unsubscribeReader = null;
      fill(detail);
      render();
      return;
    }
    if (selected !== code) {
      if (unsubscribeReader) unsubscribeReader();
      const reader = data.radiologists.find((r) => r.code === code);
      unsubscribeReader = api.subscribe(CHANGED, { id: reader.id }, () => openReader(code, false).catch(() => {}));
    }
    selected = code;
    render();
    const list = (await api.request(WORKLIST, { code })).worklist;
    const accession = h('input', { id: 'pin-accession', autocomplete: 'off', required: true });
    const reason = h('input', { id: 'pin-reason', autocomplete: 'off', required: true });
    const pin = async (event) => {
      event.preventDefault();
      const exam = (await api.request(FIND, { accession: accession.value.trim() })).exam;
      if (!exam) {
        fill(status, notice(`No study you may see has the accession ${accession.value}.`));
        return;
      }
      await act('pin', { exam: exam.id, code, reason: reason.value.trim() },
        (result) => `Pinned ${exam.accessionNumber} to ${code}: ${result.read.reason}`);
    };
    fill(detail, h('div', { class: 'card', role: 'region', 'aria-label': `Worklist of ${code}` },
      h('h3', {}, `Worklist of ${code}`),
      list.length ? h('table', { class: 'grid compact' },
        h('thead', {}, h('tr', {}, ['#', 'Priority', 'Study', 'Due', 'Why', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, list.map((item) => h('tr', { 'data-accession': item.exam.accessionNumber },
          h('td', {}, item.position === null ? '—' : item.position + 1), h('td', {}, priority(item.priority)),
          h('td', {}, `${item.exam.accessionNumber} ${item.exam.procedure.name}`, item.opened ? h('span', { class: 'tag' }, 'opened') : null),
          h('td', {}, untilDue(item.dueAt).text),
          h('td', { class: 'reason' }, item.reason),
          h('td', {}, item.pinned ? h('button', { type: 'button', onclick: () => act('unpin', { exam: item.exam.id }) }, 'Unpin',
            h('span', { class: 'sr-only' }, ` ${item.exam.accessionNumber}`)) : ''))))) : h('p', { class: 'empty' }, 'Empty.'),
      h('form', { class: 'inline', onsubmit: pin, 'aria-label': `Pin a study to ${code}` },
        h('label', { for: 'pin-accession' }, 'Pin study (accession)'), accession,
        h('label', { for: 'pin-reason' }, 'Reason'), reason,
        h('button', { type: 'submit' }, `Pin to ${code}`))));
  }

  const unsubscribe = api.subscribe(RAN, {}, (event) => {
    announce(`Balancer ran: ${event.balancerRan.moved} moved.`);
    load().catch((error) => fill(status, notice(error.message)));
  }, (error) => fill(status, notice(`Live updates stopped: ${error.message}`)));
  const timer = setInterval(() => data && render(), 60000);
  load().catch((error) => fill(status, notice(error.message)));
  return () => {
    unsubscribe();
    if (unsubscribeReader) unsubscribeReader();
    clearInterval(timer);
  };
}
