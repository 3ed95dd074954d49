// The player's timeline: a native range input (keyboard and screen-reader friendly) with time
// labels, the idle gaps shaded, and markers on top — risk events (red) and review comments
// (blue) — that seek when clicked. Positions are set through the CSSOM (el.style), which the
// portal's CSP allows (no inline style attributes).
import { h, replace } from '../dom.js';
import { formatOffset } from '../recordings-common.js';

export function createTimeline({ onSeek }) {
  let duration = 0;
  let dragging = false;
  const range = h('input', {
    type: 'range', id: 'player-scrubber', class: 'scrubber', min: '0', max: '0', step: '1000', value: '0',
    'aria-label': 'Position in the recording',
  });
  const progress = h('div', { class: 'timeline-progress', 'aria-hidden': 'true' });
  const gaps = h('div', { class: 'timeline-gaps', 'aria-hidden': 'true' });
  const markers = h('div', { class: 'timeline-markers' });
  const current = h('span', { class: 'time-label mono', id: 'player-time', text: '0:00' });
  const total = h('span', { class: 'time-label mono', id: 'player-duration', text: '0:00' });
  const el = h('div', { class: 'timeline' },
    current,
    h('div', { class: 'timeline-track' }, progress, gaps, range, markers),
    total);

  const pct = (ms) => `${duration > 0 ? Math.min(100, Math.max(0, (ms / duration) * 100)) : 0}%`;

  range.addEventListener('input', () => {
    dragging = true;
    current.textContent = formatOffset(Number(range.value));
  });
  range.addEventListener('change', () => {
    dragging = false;
    onSeek(Number(range.value));
  });

  return {
    el,
    range,
    setDuration(ms) {
      duration = Math.max(0, ms);
      range.max = String(Math.round(duration));
      range.setAttribute('aria-valuetext', `${formatOffset(Number(range.value))} of ${formatOffset(duration)}`);
      total.textContent = formatOffset(duration);
    },
    setTime(ms) {
      if (dragging) return;
      progress.style.width = pct(ms);
      range.value = String(Math.round(ms));
      current.textContent = formatOffset(ms);
      range.setAttribute('aria-valuetext', `${formatOffset(ms)} of ${formatOffset(duration)}`);
    },
    setGaps(list) {
      replace(gaps, (list || []).filter(Array.isArray).map(([a, b]) => {
        const g = h('span', { class: 'timeline-gap', title: `Idle ${formatOffset(a)}–${formatOffset(b)}` });
        g.style.left = pct(a);
        g.style.width = `calc(${pct(b)} - ${pct(a)})`;
        return g;
      }));
    },
    /** markers: [{offset_ms, kind: 'risk'|'comment', text}] */
    setMarkers(list) {
      replace(markers, list.map((m) => {
        const label = `${m.kind === 'comment' ? 'Comment' : 'Risk'} at ${formatOffset(m.offset_ms)}: ${m.text || ''}`;
        const b = h('button', {
          type: 'button', class: `timeline-marker marker-${m.kind}${m.severity ? ` severity-${m.severity}` : ''}`,
          title: label, 'aria-label': label, dataset: { offset: String(m.offset_ms), kind: m.kind },
          onClick: () => onSeek(Number(m.offset_ms)),
        });
        b.style.left = pct(Number(m.offset_ms));
        return b;
      }));
    },
  };
}
