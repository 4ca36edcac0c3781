// The rules editor: the active rule set and its history, a draft edited rule by rule with the
// server's validation errors at their place (a caret under the condition's column), preview,
// the what-if simulation side by side, save, activate and roll back, and the diff of versions.
import { h, fill, stamp, bar, announce, notice } from './dom.js';

const ACTION_FIELDS = 'kind priority minutes to dueWithinMinutes waitingOverMinutes subspecialty onlyIfOnShift radiologistCodes sites maxOpen statOverPrice lateness balance stability fairness preference marginMinutes';
const RULE_FIELDS = `name description order enabled condition actions { ${ACTION_FIELDS} }`;
const LOAD = `query Rules { activeRuleSet { version } ruleSets { version createdAt author reason basedOn active rules { ${RULE_FIELDS} } }
  ruleVocabulary { name type description values minimum maximum } }`;
const INVALID = `... on RuleSetInvalid { message errors { ruleIndex ruleName field code message line column } }
  ... on ValidationFailed { message errors { field message } }`;
const PREVIEW = `mutation Preview($rules: [RuleInput!]!) { previewRuleSet(input: {rules: $rules}) { __typename
  ... on RuleSetPreview { changes { exam { accessionNumber procedure { name } } fields priorityBefore priorityAfter
      dueAtBefore dueAtAfter subspecialtyBefore subspecialtyAfter assignedBefore assignedAfter eligibleAfter }
    warnings { code message ruleNames examCount } }
  ... on RuleSetInvalid { message errors { ruleIndex ruleName field code message line column } } } }`;
const SAVE = `mutation Save($input: SaveRuleSetInput!) { saveRuleSet(input: $input) { __typename
  ... on RuleSetSaved { ruleSet { version } warnings { message } } ${INVALID} ... on NotFound { message } } }`;
const ACTIVATE = `mutation Activate($version: Int!, $reason: String!) { activateRuleSet(input: {version: $version, reason: $reason}) {
  __typename ... on RuleSetActivated { ruleSet { version } previousVersion } ... on Error { message } } }`;
const DIFF = `query Diff($from: Int!, $to: Int!) { ruleSetDiff(from: $from, to: $to) {
  added { name condition } removed { name condition }
  changed { name before { ${RULE_FIELDS} } after { ${RULE_FIELDS} } } } }`;
const SIMULATE = `mutation Simulate($rules: [RuleInput!]!, $scenario: SimulationScenarioInput!) {
  simulateRuleSet(input: {rules: $rules, scenario: $scenario}) { __typename
    ... on RuleSetSimulation { studies radiologists seed caveats
      active { ...Day } draft { ...Day } }
    ${INVALID} } }
  fragment Day on SimulatedDay { breachRate wrvuMaxOverMean unread ineligibleReads seconds
    byPriority { priority studies breachRate turnaroundP50Minutes turnaroundP90Minutes } }`;
const ACTIVATED = `subscription { ruleSetActivated { version previousVersion actor } }`;

const PRIORITIES = ['STAT', 'URGENT', 'ROUTINE'];
const SUBSPECIALTIES = ['NEURO', 'MSK', 'BODY', 'CHEST', 'BREAST', 'PEDIATRIC', 'CARDIAC', 'NUCLEAR', 'IR', 'GENERAL'];
/** The inputs each action kind uses: [field, type, label]. */
export const ACTION_KINDS = {
  SET_PRIORITY: [['priority', PRIORITIES, 'priority']],
  SET_TURNAROUND: [['minutes', 'int', 'minutes']],
  ESCALATE_PRIORITY: [['to', PRIORITIES, 'to'], ['dueWithinMinutes', 'int', 'due within (min)'], ['waitingOverMinutes', 'int', 'waiting over (min)']],
  REQUIRE_SUBSPECIALTY: [['subspecialty', SUBSPECIALTIES, 'subspecialty'], ['onlyIfOnShift', 'bool', 'only if one is on shift']],
  RESTRICT_RADIOLOGISTS: [['radiologistCodes', 'list', 'radiologists (codes, comma separated)']],
  EXCLUDE_RADIOLOGISTS: [['radiologistCodes', 'list', 'radiologists (codes, comma separated)']],
  RESTRICT_SITES: [['sites', 'list', 'sites (codes)']],
  EXCLUDE_SITES: [['sites', 'list', 'sites (codes)']],
  CAP_PER_RADIOLOGIST: [['maxOpen', 'int', 'at most open'], ['statOverPrice', 'float', 'bends for STAT at price (empty: holds)']],
  SET_WEIGHTS: [['lateness', 'float', 'lateness'], ['balance', 'float', 'balance'], ['stability', 'float', 'stability'], ['fairness', 'float', 'fairness'], ['preference', 'float', 'preference']],
  GROUP_SAME_PATIENT: [],
  HOLD_WAITING_BOUND: [['marginMinutes', 'float', 'margin (min, empty: 30)']],
};

/** A saved rule as the input that would save it again. */
function asInput(rule) {
  return {
    name: rule.name, description: rule.description, order: rule.order, enabled: rule.enabled,
    condition: rule.condition,
    actions: rule.actions.map((action) => {
      const out = { kind: action.kind };
      for (const [field] of ACTION_KINDS[action.kind]) if (action[field] !== null && action[field] !== undefined) out[field] = action[field];
      return out;
    }),
  };
}

export function rulesView(main, api) {
  const status = h('div', { id: 'rules-status' });
  const editor = h('div', { id: 'rule-editor' });
  const result = h('div', { id: 'rules-result' });
  const history = h('div', { id: 'rule-history' });
  const diff = h('div', { id: 'rule-diff' });
  const vocabulary = h('div');
  const reason = h('input', { id: 'rules-reason', autocomplete: 'off', placeholder: 'why this change' });
  let sets = [];
  let draft = [];
  let basedOn = null;
  let saved = null; // the version the draft was saved as, until edited again
  let errors = [];
  const opened = new Set(); // the rules shown unfolded

  fill(main,
    h('section', { class: 'panel wide', 'aria-labelledby': 'editor-title' },
      h('div', { class: 'row' }, h('h2', { id: 'editor-title' }, 'Draft'), h('span', { id: 'based-on', class: 'muted' })),
      status, editor,
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'add-rule', onclick: () => { const rule = { name: '', description: '', order: 100, enabled: true, condition: '', actions: [{ kind: 'SET_PRIORITY', priority: 'URGENT' }] }; draft.push(rule); opened.add(rule); edited(); render(); editor.querySelector('.rule:last-child input')?.focus(); } }, 'Add rule'),
        h('button', { type: 'button', id: 'preview', class: 'primary', onclick: preview }, 'Preview'),
        h('button', { type: 'button', id: 'simulate', onclick: simulate }, 'Simulate a day')),
      h('div', { class: 'actions' },
        h('label', { for: 'rules-reason' }, 'Reason'), reason,
        h('button', { type: 'button', id: 'save-rules', onclick: save }, 'Save as new version'),
        h('span', { id: 'activate-slot' })),
      result),
    h('section', { class: 'panel wide', 'aria-labelledby': 'history-title' },
      h('h2', { id: 'history-title' }, 'Versions'), history, diff),
    h('section', { class: 'panel wide', 'aria-labelledby': 'vocab-title' },
      h('h2', { id: 'vocab-title' }, 'What a condition may use'), vocabulary));

  function edited() {
    saved = null;
    fill(document.getElementById('activate-slot'));
  }

  async function load(version) {
    const data = await api.request(LOAD);
    sets = data.ruleSets;
    const start = sets.find((s) => s.version === (version ?? data.activeRuleSet?.version)) || sets[0];
    basedOn = start ? start.version : null;
    draft = start ? start.rules.map(asInput) : [];
    errors = [];
    fill(document.getElementById('based-on'), start ? `editing from version ${start.version}` : 'no rules yet');
    fill(vocabulary, h('table', { class: 'grid compact' },
      h('thead', {}, h('tr', {}, ['Attribute', 'Type', 'Meaning'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, data.ruleVocabulary.map((a) => h('tr', {}, h('td', {}, h('code', {}, a.name)),
        h('td', {}, a.type.toLowerCase(), a.values.length ? h('div', { class: 'muted' }, a.values.join(', ')) : null),
        h('td', {}, a.description))))));
    render();
    renderHistory();
  }

  function render() {
    fill(editor, draft.map((rule, index) => ruleCard(rule, index)),
      errors.filter((e) => e.ruleIndex === null || e.ruleIndex === undefined)
        .map((e) => notice(`${e.field}: ${e.message}`)));
  }

  function ruleCard(rule, index) {
    const mine = errors.filter((e) => e.ruleIndex === index);
    const id = `rule-${index}`;
    const conditionErrors = mine.filter((e) => e.field.startsWith('condition'));
    const otherErrors = mine.filter((e) => !e.field.startsWith('condition'));
    const condition = h('input', { id: `${id}-condition`, class: 'condition', value: rule.condition, spellcheck: 'false',
      'aria-invalid': conditionErrors.length ? 'true' : null, 'aria-describedby': `${id}-condition-error`,
      oninput: (e) => { rule.condition = e.target.value; edited(); } });
    return h('details', { class: mine.length ? 'rule has-error' : 'rule', 'data-rule': rule.name,
      open: mine.length > 0 || opened.has(rule), ontoggle: (e) => { if (e.target.open) opened.add(rule); else opened.delete(rule); } },
      h('summary', {}, `${index + 1}. ${rule.name || 'new rule'}`, rule.enabled ? '' : ' (disabled)', h('code', {}, rule.condition)),
      h('div', { class: 'grid2' },
        h('div', {}, h('label', { for: `${id}-name` }, 'Name'),
          h('input', { id: `${id}-name`, value: rule.name, oninput: (e) => { rule.name = e.target.value; edited(); } })),
        h('div', {}, h('label', { for: `${id}-order` }, 'Order'),
          h('input', { id: `${id}-order`, type: 'number', class: 'narrow', value: rule.order, oninput: (e) => { rule.order = Number(e.target.value); edited(); } })),
        h('div', {}, h('label', { for: `${id}-enabled` }, 'Enabled'),
          h('input', { id: `${id}-enabled`, type: 'checkbox', checked: rule.enabled, onchange: (e) => { rule.enabled = e.target.checked; edited(); } }))),
      h('label', { for: `${id}-condition` }, 'When'), condition,
      h('div', { id: `${id}-condition-error`, class: 'condition-errors' }, conditionErrors.map((e) => [
        e.column ? h('p', { class: 'caret', 'aria-hidden': 'true' }, `${' '.repeat(Math.max(0, e.column - 1))}^`) : null,
        h('p', { class: 'field-error' }, `${e.message}${e.column ? ` (column ${e.column})` : ''}`)])),
      h('div', {}, h('strong', {}, 'Then'), rule.actions.map((action, n) => actionRow(rule, action, `${id}-a${n}`, n,
        otherErrors.filter((e) => e.field.startsWith(`actions[${n}]`))))),
      otherErrors.filter((e) => !/^actions\[\d+\]/.test(e.field)).map((e) => h('p', { class: 'field-error' }, `${e.field}: ${e.message}`)),
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: () => { rule.actions.push({ kind: 'SET_PRIORITY', priority: 'URGENT' }); edited(); render(); } }, 'Add action'),
        h('button', { type: 'button', onclick: () => { draft.splice(index, 1); errors = []; edited(); render(); } }, 'Remove rule',
          h('span', { class: 'sr-only' }, ` ${rule.name}`))));
  }

  function actionRow(rule, action, id, n, problems) {
    const kind = h('select', { id: `${id}-kind`, 'aria-label': 'Action', onchange: (e) => {
      rule.actions[n] = { kind: e.target.value };
      edited();
      render();
    } }, Object.keys(ACTION_KINDS).map((k) => h('option', { value: k, selected: k === action.kind }, k.toLowerCase().replaceAll('_', ' '))));
    const inputs = ACTION_KINDS[action.kind].map(([field, type, label]) => {
      const fid = `${id}-${field}`;
      const set = (value) => { if (value === null || value === '' || Number.isNaN(value)) delete action[field]; else action[field] = value; edited(); };
      let input;
      if (Array.isArray(type)) {
        input = h('select', { id: fid, onchange: (e) => set(e.target.value) }, h('option', { value: '' }, '—'),
          type.map((v) => h('option', { value: v, selected: action[field] === v }, v)));
      } else if (type === 'bool') {
        input = h('input', { id: fid, type: 'checkbox', checked: !!action[field], onchange: (e) => set(e.target.checked) });
      } else if (type === 'list') {
        input = h('input', { id: fid, value: (action[field] || []).join(', '), oninput: (e) => set(e.target.value.split(',').map((s) => s.trim()).filter(Boolean)) });
      } else {
        input = h('input', { id: fid, type: 'number', class: 'narrow', step: type === 'int' ? 1 : 0.1, value: action[field] ?? '',
          oninput: (e) => set(e.target.value === '' ? null : Number(e.target.value)) });
      }
      return h('span', {}, h('label', { for: fid }, label), input);
    });
    return [h('div', { class: 'action' }, kind, inputs,
      h('button', { type: 'button', onclick: () => { rule.actions.splice(n, 1); edited(); render(); } }, 'Remove action')),
    problems.map((e) => h('p', { class: 'field-error' }, `${e.field}: ${e.message}`))];
  }

  function invalid(answer) {
    errors = answer.errors.map((e) => ({ ruleIndex: e.ruleIndex ?? null, field: e.field || '', code: e.code || 'INVALID', message: e.message, column: e.column }));
    render();
    fill(result);
    fill(status, notice(`${answer.message} — ${answer.errors.length} problem${answer.errors.length === 1 ? '' : 's'} marked below.`));
    editor.querySelector('[aria-invalid="true"]')?.focus();
  }

  async function preview() {
    fill(status);
    const answer = (await api.request(PREVIEW, { rules: draft })).previewRuleSet;
    if (answer.__typename !== 'RuleSetPreview') return invalid(answer);
    errors = [];
    render();
    announce(`Preview: ${answer.changes.length} studies would change.`);
    fill(result, h('div', { id: 'preview-result' },
      h('h3', {}, `Preview: ${answer.changes.length} open ${answer.changes.length === 1 ? 'study' : 'studies'} would change`),
      answer.warnings.map((w) => notice(`${w.code.toLowerCase().replaceAll('_', ' ')}: ${w.message}`, 'warn')),
      answer.changes.length ? h('table', { class: 'grid compact' },
        h('thead', {}, h('tr', {}, ['Study', 'Changes', 'Priority', 'Due', 'Subspecialty', 'Reader'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, answer.changes.map((c) => h('tr', {},
          h('td', {}, `${c.exam.accessionNumber} ${c.exam.procedure.name}`), h('td', {}, c.fields.join(', ')),
          h('td', {}, arrow(c.priorityBefore, c.priorityAfter)), h('td', {}, arrow(stamp(c.dueAtBefore), stamp(c.dueAtAfter))),
          h('td', {}, arrow(c.subspecialtyBefore, c.subspecialtyAfter)),
          h('td', {}, arrow(c.assignedBefore || 'nobody', c.assignedAfter || 'nobody')))))) : null));
  }

  async function save() {
    fill(status);
    const answer = (await api.request(SAVE, { input: { rules: draft, reason: reason.value.trim(), basedOn } })).saveRuleSet;
    if (answer.__typename === 'RuleSetInvalid' || answer.__typename === 'ValidationFailed') return invalid(answer);
    if (answer.__typename !== 'RuleSetSaved') return fill(status, notice(answer.message));
    saved = answer.ruleSet.version;
    errors = [];
    render();
    fill(status, notice(`Saved as version ${saved} (not active yet).`, 'info'), answer.warnings.map((w) => notice(w.message, 'info')));
    fill(document.getElementById('activate-slot'),
      h('button', { type: 'button', class: 'primary', id: 'activate', onclick: () => activate(saved) }, `Activate version ${saved}`));
    await refreshHistory();
  }

  async function activate(version) {
    const why = reason.value.trim() || `activated from the console`;
    const answer = (await api.request(ACTIVATE, { version, reason: why })).activateRuleSet;
    if (answer.__typename !== 'RuleSetActivated') return fill(status, notice(answer.message));
    fill(status, notice(`Version ${answer.ruleSet.version} is in force (was ${answer.previousVersion ?? 'none'}). Every open study is re-planned.`, 'info'));
    announce(`Version ${answer.ruleSet.version} activated.`);
    fill(document.getElementById('activate-slot'));
    await refreshHistory();
  }

  async function refreshHistory() {
    sets = (await api.request(LOAD)).ruleSets;
    renderHistory();
  }

  function renderHistory() {
    const active = sets.find((s) => s.active);
    fill(history, h('table', { class: 'grid compact' },
      h('thead', {}, h('tr', {}, ['v', 'When', 'Who', 'Why', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, sets.map((s) => h('tr', { 'data-version': s.version, class: s.active ? 'selected' : '' },
        h('td', {}, s.version, s.active ? h('span', { class: 'tag' }, 'active') : null),
        h('td', {}, stamp(s.createdAt)), h('td', {}, s.author), h('td', {}, s.reason),
        h('td', {},
          active && !s.active ? h('button', { type: 'button', class: 'diff-show', onclick: () => showDiff(active.version, s.version) }, 'Diff',
            h('span', { class: 'sr-only' }, ` ${active.version} to ${s.version}`)) : null,
          !s.active ? h('button', { type: 'button', class: 'activate-version', onclick: () => activate(s.version) },
            active && s.version < active.version ? 'Roll back' : 'Activate', h('span', { class: 'sr-only' }, ` to version ${s.version}`)) : null,
          h('button', { type: 'button', onclick: () => load(s.version) }, 'Edit', h('span', { class: 'sr-only' }, ` from version ${s.version}`))))))));
  }

  async function showDiff(from, to) {
    const d = (await api.request(DIFF, { from, to })).ruleSetDiff;
    fill(diff, h('div', { class: 'diff card', id: 'diff-result' }, h('h3', {}, `From version ${from} to ${to}`),
      d.added.map((r) => h('p', { class: 'added' }, `+ ${r.name}: ${r.condition}`)),
      d.removed.map((r) => h('p', { class: 'removed' }, `− ${r.name}: ${r.condition}`)),
      d.changed.map((c) => h('div', {}, h('p', {}, h('strong', {}, `~ ${c.name}`)),
        changedFields(c.before, c.after).map(([field, a, b]) => h('p', { class: 'muted' }, `${field}: `,
          h('span', { class: 'removed' }, a), ' → ', h('span', { class: 'added' }, b))))),
      !d.added.length && !d.removed.length && !d.changed.length ? h('p', {}, 'The same rules.') : null));
  }

  async function simulate() {
    fill(status);
    const studies = h('input', { id: 'sim-studies', type: 'number', min: 1, max: 5000, value: 400, class: 'narrow' });
    const readers = h('input', { id: 'sim-readers', type: 'number', min: 1, max: 100, value: 8, class: 'narrow' });
    const seed = h('input', { id: 'sim-seed', type: 'number', value: 1, class: 'narrow' });
    const run = h('button', { type: 'submit', class: 'primary', id: 'sim-run' }, 'Run');
    fill(result, h('form', { class: 'inline', 'aria-label': 'Simulated day', onsubmit: async (event) => {
      event.preventDefault();
      run.disabled = true;
      fill(out, h('p', { role: 'status' }, 'Replaying the same day under the active rules and under the draft…'));
      try {
        const scenario = { studies: Number(studies.value), radiologists: Number(readers.value), seed: Number(seed.value), capacityRatio: 1.1 };
        const answer = (await api.request(SIMULATE, { rules: draft, scenario })).simulateRuleSet;
        if (answer.__typename !== 'RuleSetSimulation') {
          fill(out);
          invalid(answer);
          return;
        }
        showSimulation(out, answer);
      } catch (error) {
        fill(out, notice(error.message));
      } finally {
        run.disabled = false;
      }
    } }, h('label', { for: 'sim-studies' }, 'Studies in the day'), studies,
    h('label', { for: 'sim-readers' }, 'Readers'), readers, h('label', { for: 'sim-seed' }, 'Seed'), seed, run));
    const out = h('div', { id: 'simulation-out' });
    result.append(out);
  }

  function showSimulation(out, answer) {
    const rows = [['Studies read late', (d) => d.breachRate, pct, 1],
      ['Busiest reader over mean', (d) => d.wrvuMaxOverMean, (v) => v.toFixed(2), 3],
      ['Unread at the end', (d) => d.unread, String, Math.max(1, answer.active.unread, answer.draft.unread)]];
    const byPriority = (day, p) => day.byPriority.find((x) => x.priority === p);
    for (const p of PRIORITIES) {
      rows.push([`${p} late`, (d) => byPriority(d, p)?.breachRate ?? 0, pct, 1]);
      rows.push([`${p} p90 turnaround (min)`, (d) => byPriority(d, p)?.turnaroundP90Minutes ?? 0, (v) => v.toFixed(0),
        Math.max(1, byPriority(answer.active, p)?.turnaroundP90Minutes ?? 0, byPriority(answer.draft, p)?.turnaroundP90Minutes ?? 0)]);
    }
    fill(out, h('div', { id: 'simulation-result' },
      h('h3', {}, `A simulated day: ${answer.studies} studies, ${answer.radiologists} readers (seed ${answer.seed}; replayed in ${(answer.active.seconds + answer.draft.seconds).toFixed(1)} s)`),
      h('table', { class: 'grid compact' },
        h('thead', {}, h('tr', {}, ['', 'Active rules', 'Draft'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows.map(([label, get, format, max]) => h('tr', {}, h('th', { scope: 'row' }, label),
          ...[answer.active, answer.draft].map((day) => h('td', {}, bar(get(day), max, `${label}`, { warn: 2 }), format(get(day)))))))),
      answer.caveats.map((c) => notice(c, 'info'))));
  }

  const unsubscribe = api.subscribe(ACTIVATED, {}, (data) => {
    announce(`Rule set version ${data.ruleSetActivated.version} activated by ${data.ruleSetActivated.actor}.`);
    refreshHistory().catch(() => {});
  });
  load().catch((error) => fill(status, notice(error.message)));
  return () => unsubscribe();
}

function arrow(before, after) {
  return before === after ? String(before) : `${before} → ${after}`;
}

function pct(value) {
  return `${(value * 100).toFixed(1)}%`;
}

function changedFields(before, after) {
  const out = [];
  for (const field of ['condition', 'order', 'enabled', 'description']) {
    if (before[field] !== after[field]) out.push([field, String(before[field]), String(after[field])]);
  }
  const a = JSON.stringify(asInput(before).actions);
  const b = JSON.stringify(asInput(after).actions);
  if (a !== b) out.push(['actions', a, b]);
  return out;
}
