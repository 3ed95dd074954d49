// The player for graphical (RDP) sessions: the recorded screen video (fragmented MP4 from
// /recording/file, fetched with Range requests by the browser) with the transcript beside it —
// keystroke lines and window titles; clicking a line seeks the video to that moment.
import { h, replace, formatTime } from '../dom.js';
import { badge } from '../ui.js';
import { createTranscript } from './transcript.js';
import { createReviewPanel } from './review.js';
import { sealBadge } from './seal-badge.js';
import { reviewBadge, riskBadge, secondsParam } from '../recordings-common.js';

/** Builds the video player into `content`; `cleanups` collects teardown functions. */
export function buildVideoPlayer(content, session, { sid, startMs = 0, cleanups }) {
  document.title = `${session.account_user}@${session.target_name} · Player · Vigil`;
  const src = `/api/v1/sessions/${sid}/recording/file`;
  const video = h('video', {
    id: 'player-video', class: 'player-video', controls: true, preload: 'auto', src,
    'aria-label': 'Recorded screen',
  });
  const live = !session.ended_at;
  let gone = false;
  cleanups.push(() => { gone = true; });
  const header = h('div', { class: 'player-meta' },
    h('div', { class: 'cell-stack' },
      h('strong', { class: 'player-title', id: 'player-title', text: `${session.account_user || '?'}@${session.target_name || '?'}` }),
      h('span', { class: 'muted small' }, h('span', { class: 'mono', text: session.username || '' }),
        ` · ${session.safe_name || ''} · started `, h('time', { datetime: session.started_at, text: formatTime(session.started_at) }),
        ' · RDP')),
    h('span', { class: 'badge-list' }, h('span', { id: 'player-live', hidden: !live }, badge('Live', 'ok')),
      riskBadge(session.risk_score), h('span', { id: 'player-review-badge' }, reviewBadge(session.review_status)),
      sealBadge(sid, () => gone)),
    h('a', { href: src, download: `vigil-session-${session.id}.mp4`, class: 'btn btn-small btn-ghost', text: 'Download' }));
  const note = h('p', { class: 'muted small', id: 'player-video-note',
    text: live ? 'The session is still running: the video holds what was recorded so far.' : '' });
  const left = h('div', { class: 'player-main' }, h('div', { class: 'player-frame player-frame-video' }, video), note);
  const side = h('div', { class: 'player-side' });
  replace(content, header, h('div', { class: 'player-grid' }, left, side));

  const setUrlTime = (ms) => {
    const target = `#/sessions/${sid}?t=${secondsParam(ms)}`;
    if (window.location.hash !== target) history.replaceState(null, '', target);
  };
  const seek = (ms) => new Promise((resolve) => {
    const t = Math.max(0, ms / 1000);
    const apply = () => { video.currentTime = t; setUrlTime(ms); resolve(); };
    if (video.readyState >= 1) apply();
    else video.addEventListener('loadedmetadata', apply, { once: true });
  });
  const transcript = createTranscript({
    sessionId: session.id,
    onSeek: (ms, event, { play = false } = {}) => seek(ms).then(() => { if (play) video.play().catch(() => {}); }),
  });
  const review = createReviewPanel({
    session,
    getTime: () => Math.round(video.currentTime * 1000),
    onSeek: (ms) => seek(ms),
    onComments: () => {},
    onStatus: (status) => replace(document.getElementById('player-review-badge') || h('span'), reviewBadge(status)),
  });
  side.append(transcript.el, review.el);
  transcript.load();
  review.load();
  const onTime = () => transcript.setTime(Math.round(video.currentTime * 1000));
  video.addEventListener('timeupdate', onTime);
  cleanups.push(() => { video.removeEventListener('timeupdate', onTime); video.pause(); video.removeAttribute('src'); video.load(); });
  if (startMs > 0) seek(startMs);
}
