// The department's key metrics for a period, site and modality, as bar charts against targets.
import { h, fill, bar, duration, notice } from './dom.js';

const SITES = `query { sites { code name } }`;
const METRICS = `query M($from: DateTime!, $to: DateTime!, $site: String, $modality: Modality) {
  metrics(from: $from, to: $to, siteCode: $site, modality: $modality) {
    turnaround { stage priority minutes { count median p90 } targetBreaches targetBreachRate }
    attendance { appointments arrivals noShows noShowRate lateCancellations lateCancellationRate }
    repeatRate referrerSatisfaction patientSatisfaction
    criticalResults { level windowMinutes communicated acknowledgedInTime acknowledgedLate unacknowledged awaiting inTimeRate
                      minutesToAcknowledge { count median p90 } }
    utilization { resourceCode openMinutes bookedMinutes usedMinutes }
  } }`;
const MODALITIES = ['CT', 'MR', 'US', 'XR', 'MG', 'NM', 'PT', 'FL'];
const PRIORITIES = ['STAT', 'URGENT', 'ROUTINE'];

function day(date) {
  return date.toISOString().slice(0, 10);
}

export function metricsView(main, api) {
  const to = new Date(Date.now() + 86400000);
  const from = new Date(Date.now() - 7 * 86400000);
  const fromInput = h('input', { id: 'm-from', type: 'date', value: day(from) });
  const toInput = h('input', { id: 'm-to', type: 'date', value: day(to) });
  const site = h('select', { id: 'm-site' }, h('option', { value: '' }, 'all sites'));
  const modality = h('select', { id: 'm-modality' }, h('option', { value: '' }, 'all modalities'),
    MODALITIES.map((m) => h('option', { value: m }, m)));
  const out = h('div', { id: 'metrics-out' });

  fill(main, h('section', { class: 'panel wide', 'aria-labelledby': 'metrics-title' },
    h('h2', { id: 'metrics-title' }, 'Key metrics'),
    h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); load(); } },
      h('label', { for: 'm-from' }, 'From'), fromInput, h('label', { for: 'm-to' }, 'To (exclusive)'), toInput,
      h('label', { for: 'm-site' }, 'Site'), site, h('label', { for: 'm-modality' }, 'Modality'), modality,
      h('button', { type: 'submit', class: 'primary' }, 'Show')),
    out));

  async function load() {
    fill(out, h('p', { role: 'status' }, 'Loading…'));
    try {
      const m = (await api.request(METRICS, {
        from: new Date(`${fromInput.value}T00:00:00Z`).toISOString(),
        to: new Date(`${toInput.value}T00:00:00Z`).toISOString(),
        site: site.value || null, modality: modality.value || null,
      })).metrics;
      render(m);
    } catch (error) {
      fill(out, notice(error.message));
    }
  }

  function render(m) {
    const stages = [...new Set(m.turnaround.map((t) => t.stage))];
    fill(out, h('div', { class: 'columns' },
      h('div', { class: 'card' }, h('h3', {}, 'Turnaround, median and p90 (minutes)'),
        stages.map((stage) => { const longest = Math.max(1, ...m.turnaround.filter((t) => t.stage === stage).map((t) => t.minutes.p90 || 0)); return h('div', {}, h('h4', {}, stage.toLowerCase().replaceAll('_', ' ')),
          h('div', { class: 'chart' }, PRIORITIES.map((p) => {
            const t = m.turnaround.find((x) => x.stage === stage && x.priority === p);
            if (!t || !t.minutes.count) return [h('span', {}, p), h('span', { class: 'muted' }, 'no exams'), h('span')];
            return [h('span', {}, p),
              h('div', {}, bar(t.minutes.median || 0, longest, `${stage} ${p} median`), bar(t.minutes.p90 || 0, longest, `${stage} ${p} p90`, { warn: 2 })),
              h('span', {}, `${duration(t.minutes.median)} / ${duration(t.minutes.p90)}`,
                t.targetBreachRate !== null ? h('span', { class: t.targetBreachRate > 0.1 ? 'breach late' : 'breach muted' }, `${(t.targetBreachRate * 100).toFixed(0)}% over target`) : null)];
          }))); })),
      h('div', { class: 'card' }, h('h3', {}, 'Critical results acknowledged in time'),
        h('div', { class: 'chart' }, m.criticalResults.map((c) => [
          h('span', {}, c.level.toLowerCase()),
          bar(c.inTimeRate ?? 0, 1, `${c.level} in time`, { warn: 2 }),
          h('span', {}, c.inTimeRate === null ? 'none yet' : `${(c.inTimeRate * 100).toFixed(0)}% of ${c.communicated - c.awaiting} (window ${duration(c.windowMinutes)})`)])),
        h('h3', {}, 'Rates'),
        h('div', { class: 'chart' },
          rate('No-shows', m.attendance.noShowRate, `${m.attendance.noShows} of ${m.attendance.noShows + m.attendance.arrivals}`),
          rate('Late cancellations', m.attendance.lateCancellationRate, `${m.attendance.lateCancellations} of ${m.attendance.appointments}`),
          rate('Repeats', m.repeatRate, ''),
          rate('Referrer satisfaction', m.referrerSatisfaction === null ? null : m.referrerSatisfaction / 5, m.referrerSatisfaction === null ? '' : `${m.referrerSatisfaction.toFixed(1)} / 5`))),
      h('div', { class: 'card' }, h('h3', {}, 'Scanner utilisation (booked and used of open minutes)'),
        h('div', { class: 'chart' }, m.utilization.map((u) => [
          h('span', {}, u.resourceCode),
          h('div', {}, bar(u.bookedMinutes, u.openMinutes, `${u.resourceCode} booked`, { warn: 2 }), bar(u.usedMinutes, u.openMinutes, `${u.resourceCode} used`, { warn: 2 })),
          h('span', {}, u.openMinutes ? `${((u.bookedMinutes / u.openMinutes) * 100).toFixed(0)}% / ${((u.usedMinutes / u.openMinutes) * 100).toFixed(0)}%` : 'closed')])))));
  }

  function rate(label, value, detail) {
    return [h('span', {}, label), bar(value ?? 0, 1, label, { warn: 2 }),
      h('span', {}, value === null || value === undefined ? 'no data' : `${(value * 100).toFixed(1)}%${detail ? ` (${detail})` : ''}`)];
  }

  api.request(SITES).then((data) => {
    for (const s of data.sites) site.append(h('option', { value: s.code }, s.name));
  }).catch(() => {});
  load();
  return null;
}
