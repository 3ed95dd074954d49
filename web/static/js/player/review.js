// The review panel of the player: the session's review status (Reviewed-OK / Suspicious /
// Requires investigation) with a comment, the review history, and comments anchored to a moment
// of the recording (shown as timeline markers). The server decides who may review: a 403 turns
// the panel into a plain "you don't have permission" note.
import * as api from '../api.js';
import { h, replace, formatTime, uid } from '../dom.js';
import { formError, setFormError, onSubmit, notify, emptyState, loadingState, errorState } from '../ui.js';
import { REVIEW_STATUSES, reviewBadge, formatOffset, isForbidden } from '../recordings-common.js';

export function createReviewPanel({ session, getTime, onSeek, onComments, onStatus }) {
  const sid = encodeURIComponent(session.id);
  const statusHolder = h('span', { id: 'review-status' }, reviewBadge(session.review_status));
  const body = h('div', {}, loadingState('Loading the review…'));
  const el = h('section', { class: 'panel review-panel', id: 'review-panel', 'aria-labelledby': 'review-title' },
    h('div', { class: 'review-head' }, h('h2', { id: 'review-title', text: 'Review' }), statusHolder),
    body);

  const history = h('ol', { class: 'review-history', id: 'review-history' });
  const comments = h('ol', { class: 'comment-list', id: 'comment-list' });

  function renderHistory(items) {
    replace(history, items.length ? items.map((r) => h('li', { class: 'review-entry' },
      h('div', { class: 'review-entry-head' }, reviewBadge(r.status),
        h('span', { class: 'small', text: r.reviewer || '' }),
        h('time', { class: 'muted small', datetime: r.at, text: formatTime(r.at) })),
      r.comment ? h('p', { class: 'review-comment', text: r.comment }) : null))
      : h('li', { class: 'muted small', text: 'Not reviewed yet.' }));
  }

  function renderComments(items) {
    onComments(items);
    replace(comments, items.length ? items.map((c) => h('li', { class: 'comment', dataset: { offset: String(c.offset_ms) } },
      h('button', {
        type: 'button', class: 'btn btn-small btn-ghost mono comment-seek', text: formatOffset(c.offset_ms),
        'aria-label': `Seek to ${formatOffset(c.offset_ms)}`, onClick: () => onSeek(Number(c.offset_ms)),
      }),
      h('div', { class: 'comment-body' },
        h('p', { class: 'comment-text', text: c.text }),
        h('p', { class: 'muted small' }, `${c.author || ''} · `, h('time', { datetime: c.at, text: formatTime(c.at) })))))
      : h('li', { class: 'muted small', text: 'No comments yet.' }));
  }

  async function refresh() {
    const [reviews, notes] = await Promise.all([
      api.get(`/sessions/${sid}/reviews`),
      api.get(`/sessions/${sid}/comments`),
    ]);
    renderHistory(api.itemsOf(reviews));
    renderComments(api.itemsOf(notes).sort((a, b) => a.offset_ms - b.offset_ms));
  }

  function reviewForm() {
    const errorEl = formError();
    const name = uid('review-status');
    const form = h('form', { class: 'review-form', id: 'review-form' },
      errorEl,
      h('fieldset', { class: 'plain-fieldset' },
        h('legend', { text: 'Mark this session' }),
        h('div', { class: 'status-choices' }, REVIEW_STATUSES.filter((s) => s.value !== 'unreviewed').map((s) => {
          const id = uid('review');
          return h('label', { class: `status-choice status-${s.value}`, for: id },
            h('input', { type: 'radio', id, name, value: s.value, required: true, checked: session.review_status === s.value }),
            h('span', { text: s.label }));
        }))),
      h('div', { class: 'field' },
        h('label', { for: 'review-comment', text: 'Comment' }),
        h('textarea', { id: 'review-comment', name: 'comment', rows: '2', maxlength: '4000', placeholder: 'What you saw, why it is fine or not' })),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'review-save', text: 'Save review' })));
    onSubmit(form, errorEl, async () => {
      const checked = form.querySelector(`input[name="${name}"]:checked`);
      if (!checked) throw new Error('Choose a status first.');
      const updated = await api.put(`/sessions/${sid}/review`, { status: checked.value, comment: form.comment.value.trim() });
      const status = (updated && updated.review_status) || checked.value;
      replace(statusHolder, reviewBadge(status));
      onStatus(status);
      form.comment.value = '';
      notify('Review saved.');
      await refresh();
    }, 'Saving…');
    return form;
  }

  function commentForm() {
    const errorEl = formError();
    const at = h('span', { class: 'mono', id: 'comment-at', text: formatOffset(getTime()) });
    const form = h('form', { class: 'comment-form', id: 'comment-form' },
      errorEl,
      h('div', { class: 'field' },
        h('label', { for: 'comment-text' }, 'Comment at ', at),
        h('textarea', { id: 'comment-text', name: 'text', rows: '2', maxlength: '4000', required: true, placeholder: 'Anchored to the current moment of the recording' })),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn', id: 'comment-add', text: 'Add comment' })));
    form.addEventListener('focusin', () => { at.textContent = formatOffset(getTime()); });
    onSubmit(form, errorEl, async () => {
      const text = form.text.value.trim();
      if (!text) throw new Error('Write the comment first.');
      await api.post(`/sessions/${sid}/comments`, { offset_ms: Math.round(getTime()), text });
      form.text.value = '';
      notify('Comment added.');
      await refresh();
    }, 'Adding…');
    return { form, at };
  }

  const cf = commentForm();
  return {
    el,
    /** Keeps the "Comment at" label on the current time. */
    setTime(ms) { if (document.activeElement !== cf.form.text) cf.at.textContent = formatOffset(ms); },
    async load() {
      try {
        await refresh();
      } catch (error) {
        if (error && error.status === 401) return;
        if (isForbidden(error)) {
          replace(body, emptyState('You don’t have permission to review this session',
            error.message || 'Reviews are for superusers and auditors of the session’s safe.'));
          el.dataset.state = 'forbidden';
          return;
        }
        replace(body, errorState(error, () => this.load()));
        return;
      }
      replace(body, reviewForm(),
        h('h3', { text: 'Comments' }), cf.form, comments,
        h('h3', { text: 'History' }), history);
      el.dataset.state = 'ready';
    },
  };
}
