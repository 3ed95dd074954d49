// The recording's tamper-evidence badge (GET /sessions/{id}/verify): the recording against its
// signed manifest — Verified, Modified, Truncated, Unsealed — and "· encrypted" when it is stored
// encrypted. Playback never waits for it; on an error the badge stays empty.
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { badge } from '../ui.js';

const SEAL_LABELS = {
  intact: ['Verified', 'ok'],
  modified: ['Modified', 'danger'],
  truncated: ['Truncated', 'danger'],
  unsealed: ['Unsealed', 'warn'],
  no_recording: ['No recording', 'neutral'],
};

/** A span that fills with the badge once the verification answered (unless `isGone()`). */
export function sealBadge(sid, isGone = () => false) {
  const el = h('span', { id: 'player-seal-badge' });
  api.get(`/sessions/${sid}/verify`).then((v) => {
    if (isGone()) return;
    const [label, kind] = SEAL_LABELS[v.status] || ['Not verified', 'neutral'];
    const b = badge(v.encrypted ? `${label} · encrypted` : label, kind);
    b.title = v.message || '';
    b.dataset.status = v.status;
    replace(el, b);
  }).catch(() => { /* the badge stays empty */ });
  return el;
}
