// Small DOM helpers: build elements, format times. No framework.

/** An element: h('button', {class: 'primary', onclick: fn}, 'Sign'). */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'style') {
      element.style.cssText = value; // CSSOM: allowed by the page's style-src 'self'
    } else if (['value', 'checked', 'selected', 'disabled', 'required', 'hidden'].includes(name)) {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's content. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A short local time: 14:05. */
export function clock(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  if (date.toDateString() === new Date().toDateString()) return time;
  return `${date.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}`;
}

/** Date and time: 3 Mar 14:05. */
export function stamp(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString([], {
    day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  });
}

/** How far a due time is from now: "in 25 min", "3 h 10 min overdue". */
export function untilDue(iso, now = Date.now()) {
  if (!iso) return { text: 'no due time', late: false };
  const minutes = Math.round((new Date(iso).getTime() - now) / 60000);
  const span = duration(Math.abs(minutes));
  return minutes >= 0
    ? { text: `in ${span}`, late: false, soon: minutes <= 30 }
    : { text: `${span} overdue`, late: true };
}

/** 75 -> "1 h 15 min". */
export function duration(minutes) {
  const m = Math.round(minutes);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return m % 60 ? `${hours} h ${m % 60} min` : `${hours} h`;
  return `${Math.round(hours / 24)} d`;
}

/** A horizontal bar with its figure, accessible as a meter. */
export function bar(value, max, label, { warn = 0.9 } = {}) {
  const ratio = max > 0 ? Math.min(value / max, 1) : 0;
  const over = max > 0 && value / max >= warn;
  return h('div', { class: 'bar', role: 'meter', 'aria-label': label,
    'aria-valuemin': 0, 'aria-valuemax': Math.round(max * 100) / 100,
    'aria-valuenow': Math.round(value * 100) / 100 },
  h('div', { class: over ? 'fill over' : 'fill', style: `width: ${(ratio * 100).toFixed(1)}%` }));
}

/** A priority badge. */
export function priority(value) {
  return h('span', { class: `badge p-${(value || '').toLowerCase()}` }, value || '—');
}

/** Announce a sentence to screen readers (and show it in the status line). */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (region) region.textContent = text;
}

/** A message box for an error or a notice. */
export function notice(text, kind = 'error') {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}
