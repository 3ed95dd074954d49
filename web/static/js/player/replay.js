// The replay engine behind the player: a clock (speed, skip idle) that feeds xterm.js from
// playback chunks (GET /sessions/{id}/playback?from_ms&to_ms). It never downloads the whole
// recording: it holds the chunk being played, fetches the next one shortly before it is needed,
// and a seek outside what it holds fetches the chunk starting at the new time and paints that
// chunk's `snapshot` (the screen as it was then) before playing on. For an active session the
// chunk's tail is re-asked as the index grows (the live edge).
import * as api from '../api.js';

export const CHUNK_MS = 60_000;
const PREFETCH_MS = 15_000; // fetch the next chunk this long before the current one runs out
const TICK_MS = 50;
const IDLE_KEEP_MS = 500; // with skip idle, this much of each gap is kept on each side (~1 s)
const LIVE_RETRY_MS = 1000;
const LIVE_FLUSH_MS = 3000; // a live recording is on disk up to about this long ago

export class Replay {
  /**
   * sessionId, term (an xterm.js Terminal), index (playback index). Callbacks: onTime(ms),
   * onState('playing'|'paused'|'buffering'|'ended'|'live'), onDamaged(message), onError(error).
   */
  constructor({ sessionId, term, index, onTime, onState, onDamaged, onError }) {
    this.id = sessionId;
    this.term = term;
    this.index = index;
    this.onTime = onTime || (() => {});
    this.onState = onState || (() => {});
    this.onDamaged = onDamaged || (() => {});
    this.onError = onError || (() => {});
    this.t = 0;
    this.speed = 1;
    this.skipIdle = true;
    this.playing = false;
    this.cur = null; // {from, to, coverTo, events, end}
    this.evIdx = 0;
    this.next = null; // the prefetched chunk after `cur` (or its promise)
    this.seekToken = 0;
    this.busy = false;
    this.lastTick = 0;
    this.liveFetchAt = 0;
    this.liveFetching = false;
    this.timer = null;
    this.disposed = false;
    this.chunksFetched = 0;
  }

  get duration() { return Math.max(0, Number(this.index.duration_ms) || 0); }
  get live() { return Boolean(this.index.active); }

  /** The index changed (live sessions grow). */
  updateIndex(index) {
    const wasLive = this.live;
    this.index = index;
    if (wasLive && !this.live) this.liveFetchAt = 0; // the session ended: fetch the tail now
  }

  async fetchChunk(from, to) {
    const q = new URLSearchParams({ from_ms: String(Math.max(0, Math.floor(from))), to_ms: String(Math.floor(to)) });
    const body = await api.get(`/sessions/${encodeURIComponent(this.id)}/playback?${q}`);
    this.chunksFetched += 1;
    const events = Array.isArray(body && body.events) ? body.events.filter((e) => Array.isArray(e) && e.length >= 3) : [];
    if (body && body.damaged) this.onDamaged(String(body.damaged));
    const lastT = events.length ? Number(events[events.length - 1][0]) : from;
    return {
      from,
      to,
      // For a live session only what has been written so far is known: re-ask the rest later.
      // (The live index's duration is the time since the start; the file lags it by its flush.)
      coverTo: this.live && !(body && body.end) && this.duration - LIVE_FLUSH_MS < to ? Math.min(to, Math.max(from, lastT + 1)) : to,
      snapshot: (body && typeof body.snapshot === 'string') ? body.snapshot : '',
      events,
      end: Boolean(body && body.end),
      width: body && body.width,
      height: body && body.height,
    };
  }

  write(data) {
    if (data) this.term.write(data);
  }

  applyEvent(e) {
    if (e[1] === 'o') this.write(String(e[2]));
    else if (e[1] === 'r') {
      const m = /^(\d+)x(\d+)$/.exec(String(e[2]));
      if (m) this.resizeQueued(Number(m[1]), Number(m[2]));
    }
  }

  /** Resizes after the output already queued is drawn (term.resize itself is immediate). */
  resizeQueued(cols, rows) {
    const c = Math.max(2, Math.min(500, cols));
    const r = Math.max(2, Math.min(300, rows));
    this.term.write('', () => { if (!this.disposed && (c !== this.term.cols || r !== this.term.rows)) this.term.resize(c, r); });
  }

  /** Paints the screen as it was at `ms` from a chunk: its snapshot plus its events before `ms`. */
  paintAt(chunk, ms) {
    // RIS through write(), not term.reset(): writes are queued, and a reset that overtook
    // output still in the queue would let that old output land on the new screen.
    this.write('\x1bc');
    if (chunk.width && chunk.height) this.resizeQueued(Number(chunk.width), Number(chunk.height));
    this.write(chunk.snapshot);
    let i = 0;
    let out = '';
    for (; i < chunk.events.length && Number(chunk.events[i][0]) < ms; i += 1) {
      const e = chunk.events[i];
      if (e[1] === 'o') out += String(e[2]);
      else { this.write(out); out = ''; this.applyEvent(e); }
    }
    this.write(out);
    this.cur = chunk;
    this.evIdx = i;
  }

  /** Moves to `ms`; paints the screen as it was then. Resolves when painted. */
  async seek(ms) {
    const target = Math.max(0, Math.min(Number(ms) || 0, this.live ? Math.max(this.duration, ms) : this.duration));
    const token = ++this.seekToken;
    this.t = target;
    this.onTime(this.t);
    const held = [this.cur, this.next].find((c) => c && !(c instanceof Promise) && c.from <= target && target < c.coverTo);
    if (held) {
      this.paintAt(held, target);
      if (held !== this.cur) this.next = null;
      return;
    }
    this.busy = true;
    this.emitState();
    try {
      const chunk = await this.fetchChunk(target, target + CHUNK_MS);
      if (token !== this.seekToken || this.disposed) return;
      this.next = null;
      this.paintAt(chunk, target);
    } catch (error) {
      if (token === this.seekToken) this.onError(error);
    } finally {
      if (token === this.seekToken) {
        this.busy = false;
        this.lastTick = performance.now();
        this.emitState();
      }
    }
  }

  play() {
    if (this.disposed) return;
    if (!this.live && this.t >= this.duration) {
      this.seek(0).then(() => this.play());
      return;
    }
    this.playing = true;
    this.lastTick = performance.now();
    if (!this.timer) this.timer = setInterval(() => this.tick(), TICK_MS);
    this.emitState();
  }

  pause() {
    this.playing = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.emitState();
  }

  toggle() { if (this.playing) this.pause(); else this.play(); }

  setSpeed(speed) { this.speed = Math.max(0.25, Math.min(32, Number(speed) || 1)); }

  emitState() {
    if (this.busy) this.onState('buffering');
    else if (this.playing) this.onState(this.live && this.t >= this.duration - 1500 ? 'live' : 'playing');
    else this.onState(!this.live && this.t >= this.duration && this.duration > 0 ? 'ended' : 'paused');
  }

  /** The gap [start, end] that `ms` is inside, if any. */
  gapAt(ms) {
    for (const g of this.index.idle_gaps || []) {
      if (Array.isArray(g) && ms >= g[0] && ms < g[1]) return g;
    }
    return null;
  }

  /** How long the recording plays with idle gaps shortened. */
  effectiveDuration() {
    let saved = 0;
    for (const g of this.index.idle_gaps || []) {
      if (Array.isArray(g)) saved += Math.max(0, (g[1] - g[0]) - 2 * IDLE_KEEP_MS);
    }
    return Math.max(0, this.duration - saved);
  }

  startNextFetch() {
    const cur = this.cur;
    if (!cur || this.next || cur.end || (this.live && cur.coverTo < cur.to)) return;
    if (!this.live && cur.to >= this.duration) return;
    const token = this.seekToken;
    const promise = this.fetchChunk(cur.to, cur.to + CHUNK_MS).then((chunk) => {
      if (token === this.seekToken && this.next === promise) this.next = chunk;
      else if (token === this.seekToken && this.next === null) this.next = chunk;
    }).catch((error) => {
      if (this.next === promise) this.next = null;
      if (token === this.seekToken) this.onError(error);
    });
    this.next = promise;
  }

  extendLive() {
    const cur = this.cur;
    if (!cur || this.liveFetching || performance.now() - this.liveFetchAt < LIVE_RETRY_MS) return;
    this.liveFetching = true;
    this.liveFetchAt = performance.now();
    const token = this.seekToken;
    this.fetchChunk(cur.coverTo, cur.to).then((tail) => {
      if (token !== this.seekToken || this.cur !== cur) return;
      const last = cur.events.length ? Number(cur.events[cur.events.length - 1][0]) : -1;
      for (const e of tail.events) if (Number(e[0]) >= cur.coverTo && Number(e[0]) >= last) cur.events.push(e);
      cur.coverTo = Math.max(cur.coverTo, tail.coverTo);
      cur.end = tail.end;
    }).catch(() => { /* the next poll retries */ }).finally(() => { this.liveFetching = false; });
  }

  tick() {
    const now = performance.now();
    const dt = now - this.lastTick;
    this.lastTick = now;
    if (!this.playing || this.busy || !this.cur) return;
    let t = this.t + dt * this.speed;
    if (this.skipIdle) {
      const gap = this.gapAt(t);
      if (gap && t > gap[0] + IDLE_KEEP_MS && t < gap[1] - IDLE_KEEP_MS) t = gap[1] - IDLE_KEEP_MS;
    }
    if (this.live) t = Math.min(t, Math.max(this.duration, this.t));
    else t = Math.min(t, this.duration);

    // Play through the chunks that `t` reaches.
    for (let guard = 0; guard < 50; guard += 1) {
      const cur = this.cur;
      let out = '';
      while (this.evIdx < cur.events.length && Number(cur.events[this.evIdx][0]) <= t) {
        const e = cur.events[this.evIdx];
        if (e[1] === 'o') out += String(e[2]);
        else { this.write(out); out = ''; this.applyEvent(e); }
        this.evIdx += 1;
      }
      this.write(out);
      // Not all of this chunk was written when it was fetched (live): ask for its tail.
      if (t >= cur.coverTo && cur.coverTo < cur.to) {
        this.extendLive();
        break;
      }
      if (t < cur.to) break;
      if (this.next && !(this.next instanceof Promise)) {
        this.cur = this.next;
        this.next = null;
        this.evIdx = 0;
        continue;
      }
      if (cur.end || (!this.live && cur.to >= this.duration)) break;
      // The next chunk is not here yet: wait for it at the boundary.
      this.startNextFetch();
      t = cur.to;
      break;
    }
    if (this.cur.to - t < PREFETCH_MS) this.startNextFetch();
    this.t = t;
    this.onTime(t);
    if (!this.live && t >= this.duration) this.pause();
    else this.emitState();
  }

  dispose() {
    this.disposed = true;
    this.pause();
    this.seekToken += 1;
  }
}
