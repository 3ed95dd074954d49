// The session player (#/sessions/<id>?t=<seconds>): xterm.js replays the recording from
// playback chunks (player/replay.js), with play/pause, speed 0.5×–16×, a timeline with risk and
// comment markers, skip idle, previous/next risk, the transcript beside it (click to seek,
// filter by kind, search with previous/next) and the review panel. An active session is
// followed at its live edge. A damaged recording plays as far as it can and says what is broken.
// Keyboard: space plays/pauses, ←/→ seek 5 s (Shift: 30 s), [ / ] previous/next risk.
import * as api from '../api.js';
import { h, replace, formatTime } from '../dom.js';
import { pageHeader, loadingState, emptyState, errorState, badge, messageOf } from '../ui.js';
import { installXtermStyleShim } from '../xterm-csp.js';
import { Replay } from '../player/replay.js';
import { createTimeline } from '../player/timeline.js';
import { createTranscript } from '../player/transcript.js';
import { createReviewPanel } from '../player/review.js';
import { legalHoldControl } from '../legal-hold.js';
import { buildVideoPlayer } from '../player/video.js';
import { sealBadge } from '../player/seal-badge.js';
import {
  reviewBadge, riskBadge, formatOffset, formatDurationMs, secondsParam, isForbidden,
} from '../recordings-common.js';

const SPEEDS = [0.5, 1, 2, 4, 8, 16];
const INDEX_POLL_MS = 2000;

let active = null; // teardown of the open player
window.addEventListener('hashchange', () => { if (active) active(); active = null; });

async function loadXterm() {
  installXtermStyleShim();
  const xterm = await import('/vendor/xterm.mjs');
  return xterm.Terminal;
}

function forbiddenState(error) {
  return h('div', { id: 'player-forbidden' }, emptyState('You don’t have permission to play this session',
    `${messageOf(error)}. Recordings are for superusers and for auditors or members holding “view recordings” on the session’s safe.`,
    h('a', { href: '#/sessions', class: 'btn', text: 'Back to Recordings' })));
}

export function render(root, { params, query }) {
  if (active) active();
  const id = params.id;
  const sid = encodeURIComponent(id);
  const startSeconds = Number(query && query.get('t'));
  const startMs = Number.isFinite(startSeconds) && startSeconds > 0 ? startSeconds * 1000 : 0;
  const DB_PROTOCOLS = new Set(['postgres', 'tds']);
  const content = h('div', { id: 'player-page', class: 'player-page' }, loadingState('Opening the recording…'));
  replace(root, pageHeader('Session player', null,
    h('a', { href: '#/sessions', class: 'btn btn-ghost', text: '← Recordings' })), content);

  let disposed = false;
  const cleanups = [];
  active = () => { disposed = true; for (const c of cleanups.splice(0)) { try { c(); } catch { /* already gone */ } } };

  (async () => {
    let session;
    let index;
    try {
      session = await api.get(`/sessions/${sid}`);
      // A database session has no terminal recording: its statements are the record.
      if (DB_PROTOCOLS.has(session.protocol)) {
        if (!disposed) buildStatements(session);
        return;
      }
      // Graphical sessions are recorded as video: the <video> player (player/video.js).
      if (session.protocol === 'rdp') {
        if (!disposed) buildVideoPlayer(content, session, { sid, startMs, cleanups });
        return;
      }
      index = await api.get(`/sessions/${sid}/playback/index`);
    } catch (error) {
      if (disposed || (error && error.status === 401)) return;
      replace(content, isForbidden(error) ? forbiddenState(error) : errorState(error, () => render(root, { params, query })));
      return;
    }
    let Terminal;
    try {
      Terminal = await loadXterm();
    } catch (error) {
      replace(content, errorState({ message: `The terminal component could not be loaded (${messageOf(error)}). ` +
        'The server’s web files may be incomplete: run “npm ci && npm run build:web”.' }));
      return;
    }
    if (disposed) return;
    build(session, index, Terminal);
  })();

  function buildStatements(session) {
    document.title = `${session.account_user}@${session.target_name} · Statements · Vigil`;
    const header = h('div', { class: 'player-meta' },
      h('div', { class: 'cell-stack' },
        h('strong', { class: 'player-title', id: 'player-title', text: `${session.account_user || '?'}@${session.target_name || '?'}` }),
        h('span', { class: 'muted small' }, h('span', { class: 'mono', text: session.username || '' }),
          ` · ${session.safe_name || ''} · started `, h('time', { datetime: session.started_at, text: formatTime(session.started_at) }),
          ` · ${(session.protocol || '').toUpperCase()}`)),
      h('span', { class: 'badge-list' }, riskBadge(session.risk_score),
        h('span', { id: 'player-review-badge' }, reviewBadge(session.review_status))));
    const notice = h('p', { class: 'muted', id: 'player-sql-notice',
      text: 'A database session: there is no terminal recording. Every statement is listed with its duration, ' +
        'rows and errors (refused statements too).' });
    const transcript = createTranscript({ sessionId: session.id, onSeek: () => {} });
    const review = createReviewPanel({
      session,
      getTime: () => 0,
      onSeek: () => {},
      onComments: () => {},
      onStatus: (status) => replace(document.getElementById('player-review-badge') || h('span'), reviewBadge(status)),
    });
    replace(content, header, notice, h('div', { class: 'player-grid' },
      h('div', { class: 'player-main' }, transcript.el), h('div', { class: 'player-side' }, review.el)));
    transcript.load();
    review.load();
  }

  function build(session, index, Terminal) {
    document.title = `${session.account_user}@${session.target_name} · Player · Vigil`;
    const host = h('div', { class: 'player-terminal', id: 'player-terminal', 'aria-label': 'Recorded terminal' });
    const damaged = h('div', { class: 'notice notice-warn player-damaged', id: 'player-damaged', role: 'alert', hidden: true });
    const liveBadge = h('span', { id: 'player-live', hidden: !index.active }, badge('Live', 'ok'));
    const stateText = h('span', { class: 'muted small', id: 'player-state', role: 'status', 'aria-live': 'polite', text: 'Paused' });
    const playBtn = h('button', { type: 'button', class: 'btn btn-primary play-button', id: 'player-play', text: '▶ Play', 'aria-label': 'Play' });
    const speed = h('select', { id: 'player-speed', 'aria-label': 'Playback speed' },
      SPEEDS.map((s) => h('option', { value: String(s), text: `${s}×`, selected: s === 1 })));
    const skipIdle = h('input', { type: 'checkbox', id: 'player-skip-idle', checked: true });
    const effective = h('span', { class: 'muted small', id: 'player-effective' });
    const prevRisk = h('button', { type: 'button', class: 'btn btn-small', id: 'risk-prev', text: '◀ Risk', 'aria-label': 'Previous risk event' });
    const nextRisk = h('button', { type: 'button', class: 'btn btn-small', id: 'risk-next', text: 'Risk ▶', 'aria-label': 'Next risk event' });
    const riskInfo = h('span', { class: 'small risk-info', id: 'risk-info', role: 'status', 'aria-live': 'polite' });

    let comments = [];
    let replay = null;
    let transcript = null;
    let review = null;
    const timeline = createTimeline({ onSeek: (ms) => seek(ms) });

    const riskMarkers = () => (index.markers || []).filter((m) => m && (m.kind || 'risk') === 'risk')
      .map((m) => ({ ...m, kind: 'risk' })).sort((a, b) => a.offset_ms - b.offset_ms);
    const refreshMarkers = () => {
      timeline.setMarkers([...riskMarkers(), ...comments.map((c) => ({ offset_ms: c.offset_ms, kind: 'comment', text: c.text }))]);
      const n = riskMarkers().length;
      prevRisk.disabled = n === 0;
      nextRisk.disabled = n === 0;
      if (!riskInfo.dataset.touched) riskInfo.textContent = n ? `${n} risk event${n === 1 ? '' : 's'}` : 'No risk events';
    };
    const refreshIndex = () => {
      timeline.setDuration(index.duration_ms || 0);
      timeline.setGaps(index.idle_gaps || []);
      refreshMarkers();
      liveBadge.hidden = !index.active;
      const eff = replay ? replay.effectiveDuration() : index.duration_ms;
      effective.textContent = (index.idle_gaps || []).length
        ? `plays in ${formatDurationMs(eff)} with idle time skipped (${formatDurationMs(index.duration_ms)} in all)` : '';
      if (index.damaged) {
        damaged.hidden = false;
        damaged.textContent = `This recording is damaged: ${index.damaged}. The player shows what could be read.`;
      }
    };

    // Tamper evidence: the recording against its signed manifest.
    const sealEl = sealBadge(sid, () => disposed);

    const header = h('div', { class: 'player-meta' },
      h('div', { class: 'cell-stack' },
        h('strong', { class: 'player-title', id: 'player-title', text: `${session.account_user || '?'}@${session.target_name || '?'}` }),
        h('span', { class: 'muted small' }, h('span', { class: 'mono', text: session.username || '' }),
          ` · ${session.safe_name || ''} · started `, h('time', { datetime: session.started_at, text: formatTime(session.started_at) }),
          ` · ${(session.protocol || '').toUpperCase()}`)),
      h('span', { class: 'badge-list' }, liveBadge, riskBadge(session.risk_score),
        h('span', { id: 'player-review-badge' }, reviewBadge(session.review_status)),
        session.access_request_id ? h('a', { href: '#/access-requests', id: 'player-approval', class: 'badge badge-info',
          text: `Approved: request #${session.access_request_id}` }) : null,
        session.purged_at ? badge('Deleted by retention', 'neutral') : null, sealEl),
      legalHoldControl('session', session.id),
      h('a', { href: `/api/v1/sessions/${sid}/recording`, download: `vigil-session-${session.id}.cast`, class: 'btn btn-small btn-ghost', text: 'Download' }));

    const controls = h('div', { class: 'player-controls', role: 'group', 'aria-label': 'Playback controls' },
      playBtn,
      h('label', { class: 'inline-field', for: 'player-speed' }, h('span', { text: 'Speed' }), speed),
      h('label', { class: 'checkbox', for: 'player-skip-idle' }, skipIdle, h('span', { text: 'Skip idle' })),
      h('span', { class: 'risk-nav' }, prevRisk, nextRisk, riskInfo),
      stateText);

    const terminalFrame = h('div', { class: 'player-frame' }, host);
    const left = h('div', { class: 'player-main' }, damaged, terminalFrame, timeline.el, controls, effective);
    const side = h('div', { class: 'player-side' });
    replace(content, header, h('div', { class: 'player-grid' }, left, side));

    const term = new Terminal({
      cols: Math.max(2, Number(index.width) || 80),
      rows: Math.max(2, Number(index.height) || 24),
      disableStdin: true,
      cursorBlink: false,
      convertEol: false,
      scrollback: 1000,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 13,
      theme: { background: '#0f172a', foreground: '#e2e8f0' },
    });
    term.open(host);
    cleanups.push(() => term.dispose());

    const setUrlTime = (ms) => {
      const target = `#/sessions/${sid}?t=${secondsParam(ms)}`;
      if (window.location.hash !== target) history.replaceState(null, '', target);
    };

    replay = new Replay({
      sessionId: id,
      term,
      index,
      onTime: (ms) => {
        timeline.setTime(ms);
        if (transcript) transcript.setTime(ms);
        if (review) review.setTime(ms);
        host.dataset.time = String(Math.round(ms));
      },
      onState: (state) => {
        const labels = { playing: 'Playing', paused: 'Paused', buffering: 'Loading…', ended: 'Ended', live: 'Live' };
        stateText.textContent = labels[state] || state;
        host.dataset.state = state;
        const playing = state === 'playing' || state === 'live' || (state === 'buffering' && replay && replay.playing);
        playBtn.textContent = playing ? '❚❚ Pause' : '▶ Play';
        playBtn.setAttribute('aria-label', playing ? 'Pause' : 'Play');
      },
      onDamaged: (message) => {
        damaged.hidden = false;
        damaged.textContent = `This recording is damaged: ${message}. The player shows what could be read.`;
      },
      onError: (error) => {
        if (error && error.status === 401) return;
        replay.pause();
        if (isForbidden(error)) { replace(content, forbiddenState(error)); return; }
        damaged.hidden = false;
        damaged.textContent = `Playback failed: ${messageOf(error)}`;
      },
    });
    cleanups.push(() => replay.dispose());

    async function seek(ms, { keepPlaying = true } = {}) {
      const wasPlaying = replay.playing;
      await replay.seek(ms);
      if (!keepPlaying && wasPlaying) replay.pause();
      setUrlTime(replay.t);
    }

    // The marker the last jump went to: from there the next jump is to its neighbour (markers
    // may be closer together than a seek lands); after any other seek, to the first one past
    // (or before) the current time. Both wrap around.
    let riskAt = -1;
    function jumpRisk(direction) {
      const markers = riskMarkers();
      if (!markers.length) return;
      const t = replay.t;
      const last = markers[riskAt];
      let i;
      if (last && Math.abs(last.offset_ms - t) < 1000) {
        i = (riskAt + direction + markers.length) % markers.length;
      } else if (direction > 0) {
        i = markers.findIndex((m) => m.offset_ms > t);
        if (i < 0) i = 0;
      } else {
        i = markers.length - 1;
        while (i >= 0 && markers[i].offset_ms >= t) i -= 1;
        if (i < 0) i = markers.length - 1;
      }
      riskAt = i;
      const target = markers[i];
      riskInfo.dataset.touched = '1';
      riskInfo.textContent = `Risk ${i + 1} of ${markers.length} at ${formatOffset(target.offset_ms)}: ${target.text || ''}`;
      seek(target.offset_ms);
    }

    playBtn.addEventListener('click', () => { replay.toggle(); if (!replay.playing) setUrlTime(replay.t); });
    speed.addEventListener('change', () => replay.setSpeed(Number(speed.value)));
    skipIdle.addEventListener('change', () => { replay.skipIdle = skipIdle.checked; });
    prevRisk.addEventListener('click', () => jumpRisk(-1));
    nextRisk.addEventListener('click', () => jumpRisk(1));

    const onKey = (event) => {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
      const tag = event.target && event.target.tagName;
      const inForm = ['INPUT', 'TEXTAREA', 'SELECT', 'BUTTON', 'A'].includes(tag) && !(event.target.closest && event.target.closest('#player-terminal'));
      if (event.key === ' ' && !inForm) { event.preventDefault(); playBtn.click(); return; }
      if (inForm && !(tag === 'BUTTON' || tag === 'A')) return;
      if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
        if (tag === 'INPUT') return;
        event.preventDefault();
        const step = event.shiftKey ? 30_000 : 5_000;
        seek(replay.t + (event.key === 'ArrowRight' ? step : -step));
      } else if (event.key === ']' ) { event.preventDefault(); jumpRisk(1); }
      else if (event.key === '[') { event.preventDefault(); jumpRisk(-1); }
    };
    document.addEventListener('keydown', onKey);
    cleanups.push(() => document.removeEventListener('keydown', onKey));

    // A transcript line plays from its moment (its output follows); a search hit only moves there.
    transcript = createTranscript({
      sessionId: id,
      onSeek: (ms, event, { play = false } = {}) => seek(ms).then(() => { if (play && !replay.playing) replay.play(); }),
    });
    review = createReviewPanel({
      session,
      getTime: () => replay.t,
      onSeek: (ms) => seek(ms),
      onComments: (items) => { comments = items; refreshMarkers(); },
      onStatus: (status) => replace(document.getElementById('player-review-badge') || h('span'), reviewBadge(status)),
    });
    side.append(transcript.el, review.el);
    refreshIndex();
    transcript.load();
    review.load();
    // A live session opened without a moment starts at its live edge, playing.
    const hasT = Boolean(query && query.get('t'));
    if (index.active && !hasT) seek(Math.max(0, (index.duration_ms || 0) - 1000)).then(() => replay.play());
    else seek(startMs);

    // A live session grows: poll its index, extend the timeline and the transcript.
    if (index.active) {
      const timer = setInterval(async () => {
        try {
          const next = await api.get(`/sessions/${sid}/playback/index`);
          if (disposed) return;
          index = next;
          replay.updateIndex(next);
          refreshIndex();
          await transcript.loadMore();
          if (!next.active) clearInterval(timer);
        } catch { /* the next poll retries */ }
      }, INDEX_POLL_MS);
      cleanups.push(() => clearInterval(timer));
    }
  }
}
