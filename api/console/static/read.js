// One read: the study, the report form rendered from the procedure's template in the schema
// (required fields, coded values as choices), draft, sign, and the result's communication.
import { h, fill, stamp, untilDue, priority, announce, notice } from './dom.js';

const FIELD = `fragment F on ReportTemplateField {
  key label required type codeSystem allowedValues { code meaning } maxLength }`;
const EXAM = `query Read($id: ID!) {
  exam(id: $id) {
    id accessionNumber status version priority patientClass dueAt readyAt
    indication { text icd10Code }
    patient { mrn givenName familyName birthDate sex phiHidden }
    procedure { code name modality bodyPart wrvu readMinutes }
    site { code name }
    study { studyInstanceUid archiveLocation }
    assignment { reason openedAt pinned radiologist { code } }
    reportTemplate { code name impression { ...F } sections { key title fields { ...F } } }
    report { status impression criticalLevel sections { key fields { key value } }
             preliminaryAt finalAt addenda { text createdAt } }
    communications { criticalLevel channel notifiedAt notifiedBy acknowledgeBy acknowledgedAt
                     acknowledgedBy escalatedAt escalationCount }
    appliedRules { ruleName changes { field value applied } }
  }
}
${FIELD}`;

const ERRORS = `... on Error { __typename code message field }
  ... on ValidationFailed { errors { field code message } }
  ... on InvalidTransition { status allowedFrom }
  ... on Conflict { expectedVersion actualVersion }`;
const OPEN = `mutation Open($id: ID!, $v: Int) { openRead(input: {examId: $id, expectedVersion: $v}) {
  __typename ${ERRORS} } }`;
const SAVE = `mutation Save($input: SaveReportDraftInput!) { saveReportDraft(input: $input) {
  __typename ... on ReportDraftSaved { exam { version } } ${ERRORS} } }`;
const INCOMPLETE = `... on ReportIncomplete { missing { section field label problem } }`;
const SIGN = {
  preliminary: `mutation Sign($id: ID!, $v: Int) { signPreliminary(input: {examId: $id, expectedVersion: $v}) { __typename ${ERRORS} ${INCOMPLETE} } }`,
  final: `mutation Sign($id: ID!, $v: Int) { signFinal(input: {examId: $id, expectedVersion: $v}) { __typename ${ERRORS} ${INCOMPLETE} } }`,
};
const NOTIFY = `mutation Notify($id: ID!) { notifyResult(input: {examId: $id, channel: PHONE}) {
  __typename ${ERRORS} } }`;

const EDITABLE = new Set(['IN_INTERPRETATION', 'PRELIMINARY']);
const LEVELS = [
  ['NONE', 'None'],
  ['UNEXPECTED', 'Unexpected significant (days)'],
  ['URGENT', 'Urgent (hours)'],
  ['CRITICAL', 'Critical (minutes)'],
];

export function readView(main, api, session, examId) {
  const body = h('div', { class: 'read' });
  fill(main, h('p', {}, h('a', { href: '#worklist' }, '← Back to the worklist')), body);

  async function load(message) {
    const data = await api.request(EXAM, { id: examId });
    if (!data.exam) {
      fill(body, notice('This study is not yours to see (or does not exist).'));
      return;
    }
    render(data.exam, message);
  }

  function render(exam, message) {
    const due = untilDue(exam.dueAt);
    const patient = exam.patient;
    const name = patient.phiHidden ? 'hidden' : `${patient.familyName}, ${patient.givenName}`;
    const status = h('div', { id: 'read-status' }, message || null);
    fill(body,
      h('section', { class: 'panel', 'aria-labelledby': 'read-title' },
        h('h2', { id: 'read-title' }, `${exam.accessionNumber} · ${exam.procedure.name}`),
        h('dl', { class: 'facts' },
          fact('Status', h('span', { id: 'exam-status' }, exam.status.replaceAll('_', ' ').toLowerCase())),
          fact('Ordered as', priority(exam.priority)),
          fact('Due', `${stamp(exam.dueAt)} (${due.text})`),
          fact('Patient', `${name} · MRN ${patient.mrn}${patient.birthDate ? ` · born ${patient.birthDate}` : ''}`),
          fact('Indication', `${exam.indication.text} (${exam.indication.icd10Code})`),
          fact('Site', exam.site.name),
          fact('Study', exam.study ? exam.study.studyInstanceUid : 'not stored'),
          fact('Why you', exam.assignment ? exam.assignment.reason : '—'),
          exam.appliedRules.length ? fact('Rules', exam.appliedRules.map((r) => r.ruleName).join(', ')) : null),
        status,
        exam.status === 'READY_FOR_READ'
          ? h('button', { type: 'button', class: 'primary', id: 'open-read', onclick: () => open(exam, status) }, 'Open the read')
          : null),
      exam.status === 'READY_FOR_READ' ? null : reportForm(exam, status),
      communications(exam, status));
  }

  async function open(exam, status) {
    const result = (await api.request(OPEN, { id: exam.id, v: exam.version })).openRead;
    if (result.__typename !== 'ReadOpened') {
      fill(status, notice(result.message));
      return;
    }
    announce('Read opened.');
    await load();
    document.getElementById('impression')?.focus();
  }

  function reportForm(exam, status) {
    const template = exam.reportTemplate;
    const report = exam.report;
    const editable = EDITABLE.has(exam.status);
    const values = {};
    for (const section of report?.sections || []) {
      for (const field of section.fields) values[`${section.key}.${field.key}`] = field.value;
    }
    const inputs = [];
    const form = h('form', { class: 'panel report', id: 'report-form', 'aria-labelledby': 'report-title',
      onsubmit: (event) => event.preventDefault() });
    const sections = (template?.sections || []).map((section) => h('fieldset', {},
      h('legend', {}, section.title),
      section.fields.map((field) => control(field, section.key, values[`${section.key}.${field.key}`] || '', editable, inputs))));
    const impression = control(template?.impression || { key: 'impression', label: 'Impression',
      required: true, type: 'TEXT', allowedValues: [], maxLength: 10000 }, null, report?.impression || '', editable, inputs);
    const level = h('select', { id: 'critical-level', disabled: !editable },
      LEVELS.map(([value, label]) => h('option', { value, selected: (report?.criticalLevel || 'NONE') === value }, label)));
    const errors = h('div', { id: 'report-errors' });

    function collect() {
      const bySection = new Map();
      let impressionText = '';
      for (const { section, field, input } of inputs) {
        if (section === null) {
          impressionText = input.value;
          continue;
        }
        if (!bySection.has(section)) bySection.set(section, []);
        bySection.get(section).push({ key: field.key, value: input.value });
      }
      return {
        examId: exam.id,
        expectedVersion: exam.version,
        impression: impressionText,
        criticalLevel: level.value,
        sections: [...bySection].map(([key, fields]) => ({ key, fields })),
      };
    }

    function clearErrors() {
      fill(errors);
      for (const { input, message } of inputs) {
        input.removeAttribute('aria-invalid');
        fill(message);
      }
    }

    function show(result) {
      const listed = [];
      for (const missing of result.missing || []) {
        const at = inputs.find((i) => i.section === (missing.section ?? null) && i.field.key === missing.field);
        const text = missing.problem === 'REQUIRED' ? 'Required before signing.' : 'Choose one of the listed codes.';
        if (at) mark(at, text);
        listed.push(h('li', {}, at ? h('a', { href: `#`, onclick: (e) => { e.preventDefault(); at.input.focus(); } }, missing.label) : missing.label, `: ${text}`));
      }
      for (const issue of result.errors || []) {
        const at = inputs.find((i) => issue.field.endsWith(i.field.key));
        if (at) mark(at, issue.message);
        listed.push(h('li', {}, `${issue.field}: ${issue.message}`));
      }
      fill(errors, h('div', { class: 'notice error', role: 'alert' },
        h('p', {}, result.message), listed.length ? h('ul', {}, listed) : null));
    }

    async function save() {
      clearErrors();
      const result = (await api.request(SAVE, { input: collect() })).saveReportDraft;
      if (result.__typename !== 'ReportDraftSaved') {
        show(result);
        return false;
      }
      exam.version = result.exam.version;
      return true;
    }

    async function sign(kind) {
      if (!(await save())) return;
      const result = (await api.request(SIGN[kind], { id: exam.id, v: exam.version }))[kind === 'final' ? 'signFinal' : 'signPreliminary'];
      if (!result.__typename.startsWith('ReportSigned')) {
        show(result);
        return;
      }
      announce(`Report signed ${kind}.`);
      await load(notice(`Signed ${kind}.`, 'info'));
    }

    const actions = editable ? h('div', { class: 'actions' },
      h('button', { type: 'button', id: 'save-draft', onclick: async () => {
        if (await save()) { fill(status, notice('Draft saved.', 'info')); announce('Draft saved.'); }
      } }, 'Save draft'),
      exam.status === 'IN_INTERPRETATION'
        ? h('button', { type: 'button', id: 'sign-preliminary', onclick: () => sign('preliminary') }, 'Sign preliminary')
        : null,
      h('button', { type: 'button', class: 'primary', id: 'sign-final', onclick: () => sign('final') }, 'Sign final')) : null;

    fill(form,
      h('h2', { id: 'report-title' }, template ? `Report · ${template.name}` : 'Report',
        report ? h('span', { class: 'tag' }, report.status.toLowerCase()) : null),
      sections, impression,
      h('div', { class: 'field' }, h('label', { for: 'critical-level' }, 'Critical finding'), level,
        h('p', { class: 'help' }, 'A critical or urgent finding is phoned to the referrer and must be acknowledged.')),
      errors, actions,
      (report?.addenda || []).map((a) => h('p', { class: 'addendum' }, `Addendum ${stamp(a.createdAt)}: ${a.text}`)));
    return form;
  }

  function communications(exam, status) {
    if (!['FINAL', 'COMMUNICATED', 'CLOSED'].includes(exam.status)) return null;
    const canNotify = exam.status === 'FINAL';
    return h('section', { class: 'panel', 'aria-labelledby': 'comm-title', id: 'communications' },
      h('h2', { id: 'comm-title' }, 'Result communication'),
      exam.communications.length ? h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, ['Level', 'Channel', 'Sent', 'Acknowledge by', 'Acknowledged', 'Escalations']
          .map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, exam.communications.map((c) => h('tr', {},
          h('td', {}, c.criticalLevel.toLowerCase()), h('td', {}, c.channel.toLowerCase()),
          h('td', {}, `${stamp(c.notifiedAt)} by ${c.notifiedBy}`), h('td', {}, stamp(c.acknowledgeBy)),
          h('td', { 'data-acknowledged': c.acknowledgedAt ? 'yes' : 'no' },
            c.acknowledgedAt ? `${stamp(c.acknowledgedAt)} by ${c.acknowledgedBy}` : 'awaiting'),
          h('td', {}, c.escalationCount))))) : h('p', {}, 'Not communicated yet.'),
      h('div', { class: 'actions' },
        canNotify ? h('button', { type: 'button', class: 'primary', id: 'notify', onclick: async () => {
          const result = (await api.request(NOTIFY, { id: exam.id })).notifyResult;
          if (result.__typename !== 'ResultCommunicated') fill(status, notice(result.message));
          else { announce('Result communicated.'); await load(notice('Result sent to the referrer.', 'info')); }
        } }, exam.report?.criticalLevel !== 'NONE' ? 'Phone the critical result' : 'Send the result') : null,
        h('button', { type: 'button', onclick: () => load() }, 'Refresh')));
  }

  load().catch((error) => fill(body, notice(error.message)));
  return null;
}

function fact(term, value) {
  return [h('dt', {}, term), h('dd', {}, value)];
}

/** One template field as a labelled control; its error message sits right under it. */
function control(field, section, value, editable, inputs) {
  const id = section === null ? 'impression' : `f-${section}-${field.key}`;
  const message = h('p', { class: 'field-error', id: `${id}-error` });
  let input;
  if (field.type === 'CODED') {
    input = h('select', { id, disabled: !editable, required: field.required, 'aria-describedby': `${id}-error` },
      h('option', { value: '' }, '— choose —'),
      field.allowedValues.map((v) => h('option', { value: v.code, selected: v.code === value }, `${v.code} — ${v.meaning}`)));
  } else {
    input = h('textarea', { id, rows: section === null ? 4 : 2, maxlength: field.maxLength,
      disabled: !editable, required: field.required, 'aria-describedby': `${id}-error` });
    input.value = value;
  }
  input.addEventListener('input', () => {
    input.removeAttribute('aria-invalid');
    fill(message);
  });
  inputs.push({ section, field, input, message });
  return h('div', { class: 'field' },
    h('label', { for: id }, field.label, field.required ? h('span', { class: 'required' }, ' (required)') : null),
    input, message);
}

function mark(at, text) {
  at.input.setAttribute('aria-invalid', 'true');
  fill(at.message, text);
}
