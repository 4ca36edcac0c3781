// Critical and urgent results as they are raised and escalated (criticalResultRaised), with
// the closed loop's state: sent, acknowledge by, acknowledged.
import { h, fill, clock, stamp, announce, notice } from './dom.js';

const RAISED = `subscription Raised($after: Int) { criticalResultRaised(after: $after) {
  eventId type at actor escalated criticalLevel
  exam { id accessionNumber procedure { name } site { code } referrer { name }
         communications { criticalLevel notifiedAt acknowledgeBy acknowledgedAt acknowledgedBy readBackBy readBackVia escalationCount } }
} }`;
// Someone other than the recipient records the recipient's read-back: who, how (now).
const ACK = `mutation Ack($id: ID!, $by: String!, $channel: NotificationChannel!) {
  acknowledgeResult(input: {examId: $id, readBack: {readBackBy: $by, channel: $channel}}) {
    __typename ... on Error { message } } }`;
const READ_BACK_CHANNELS = ['PHONE', 'PORTAL', 'EMAIL', 'SMS', 'HL7'];
// Every event since sign-in, by eventId; the header's alert and the view read it.
const events = new Map();
const listeners = new Set();

/** Subscribe for the whole session (the header shows what awaits acknowledgement). */
export function watchCritical(api, onError) {
  events.clear();
  return api.subscribe(RAISED, {}, (data) => {
    const event = data.criticalResultRaised;
    events.set(event.eventId, event);
    announce(`Critical result ${event.escalated ? 'escalated' : 'raised'}: ${event.exam?.accessionNumber || ''}`);
    for (const listener of listeners) listener();
  }, onError);
}

/** How many raised results nobody has acknowledged yet. */
export function awaiting() {
  const open = new Set();
  for (const event of events.values()) {
    const loop = event.exam?.communications?.at(-1);
    if (event.exam && !loop?.acknowledgedAt) open.add(event.exam.id);
    else if (event.exam) open.delete(event.exam.id);
  }
  return open.size;
}

export function onCritical(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function criticalView(main, api, session) {
  const list = h('ol', { class: 'log critical', id: 'critical-list', 'aria-label': 'Critical results, newest first' });
  const status = h('div');
  const canAcknowledge = ['supervisor', 'admin', 'integration'].includes(session.role);
  fill(main, h('section', { class: 'panel wide', 'aria-labelledby': 'critical-title' },
    h('h2', { id: 'critical-title' }, 'Critical results'),
    h('p', { class: 'help' }, 'Raised when a critical or urgent result is phoned to the referrer, and again when it escalates for want of acknowledgement. Live. Only the recipient acknowledges; to record it for them, give who read the result back and how.'),
    status, list));

  function item(event) {
    const exam = event.exam;
    const loop = exam?.communications?.at(-1);
    const acknowledged = loop?.acknowledgedAt;
    return h('li', { 'data-accession': exam?.accessionNumber || '', class: event.escalated ? 'escalated' : '' },
      h('time', { datetime: event.at }, clock(event.at)), ' ',
      h('span', { class: `badge level-${(event.criticalLevel || 'none').toLowerCase()}` }, (event.criticalLevel || '').toLowerCase()),
      event.escalated ? h('strong', { class: 'late' }, ' escalated') : ' raised',
      exam ? [' ', h('strong', {}, exam.accessionNumber), ` ${exam.procedure.name} (${exam.site.code}) for ${exam.referrer.name}`] : '',
      ` by ${event.actor}`,
      loop ? h('span', { class: 'muted' }, acknowledged
        ? ` · acknowledged ${stamp(loop.acknowledgedAt)} by ${loop.acknowledgedBy}`
        : ` · acknowledge by ${stamp(loop.acknowledgeBy)}`) : null,
      loop?.readBackBy ? h('span', { class: 'muted' }, ` (read back by ${loop.readBackBy}, ${(loop.readBackVia || '').toLowerCase()})`) : null,
      exam && !acknowledged && canAcknowledge ? readBackForm(exam, event.eventId) : null);
  }

  function readBackForm(exam, key) {
    const by = h('input', { id: `read-back-by-${key}`, name: 'readBackBy', required: true, maxlength: '160', autocomplete: 'off' });
    const channel = h('select', { id: `read-back-via-${key}`, name: 'channel' },
      READ_BACK_CHANNELS.map((c) => h('option', { value: c }, c.toLowerCase())));
    return h('form', { class: 'read-back', onsubmit: (e) => { e.preventDefault(); acknowledge(exam, by.value, channel.value); } },
      ' ', h('label', { for: by.id }, 'Read back by '), by,
      ' ', h('label', { for: channel.id }, 'via '), channel,
      ' ', h('button', { type: 'submit' }, 'Record read-back',
        h('span', { class: 'sr-only' }, ` of ${exam.accessionNumber}`)));
  }

  async function acknowledge(exam, by, channel) {
    const result = (await api.request(ACK, { id: exam.id, by, channel })).acknowledgeResult;
    if (result.__typename !== 'ResultAcknowledged') {
      fill(status, notice(result.message));
      return;
    }
    announce(`${exam.accessionNumber} acknowledged.`);
    const refreshed = await api.request(`query R($id: ID!) { exam(id: $id) { communications {
      criticalLevel notifiedAt acknowledgeBy acknowledgedAt acknowledgedBy readBackBy readBackVia
      escalationCount } } }`, { id: exam.id });
    for (const event of events.values()) {
      if (event.exam?.id === exam.id) event.exam.communications = refreshed.exam.communications;
    }
    for (const listener of listeners) listener();
  }

  function render() {
    fill(list, [...events.values()].sort((a, b) => b.eventId - a.eventId).map(item));
    if (!events.size) fill(list, h('li', { class: 'empty' }, 'Nothing raised since you arrived.'));
  }

  render();
  return onCritical(render);
}
