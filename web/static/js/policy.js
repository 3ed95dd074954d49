// Safe policy: form fields, reading them back, and a compact summary.
import { h } from './dom.js';
import { field, checkbox, checkboxGroup, checkedValues, badge, select } from './ui.js';

export const PROTOCOLS = [
  { value: 'ssh', label: 'SSH', port: 22 },
  { value: 'rdp', label: 'RDP', port: 3389 },
  { value: 'tds', label: 'SQL Server (TDS)', port: 1433 },
  { value: 'postgres', label: 'PostgreSQL', port: 5432 },
];

export const DEFAULT_POLICY = {
  record_sessions: true,
  live_monitoring: true,
  require_dual_authorization: false,
  retention_days: 365,
  allowed_protocols: PROTOCOLS.map((p) => p.value),
  allow_file_transfer: true,
  allow_port_forwarding: false,
  allow_agent_forwarding: false,
  allow_x11_forwarding: false,
  trust_on_first_use: false,
  encrypt_recordings: false,
  video_codec: 'av1',
  video_max_fps: 5,
  video_quality: 'standard',
  clipboard: 'deny',
};

/** The RDP clipboard rule (text formats only; files and pictures never cross). */
export const CLIPBOARD_RULES = [
  { value: 'deny', label: 'Off' },
  { value: 'allow_log', label: 'Text, logged' },
  { value: 'allow', label: 'Text, not logged' },
];

/** Screen video codecs for RDP recordings. */
export const VIDEO_CODECS = [
  { value: 'h264', label: 'H.264' },
  { value: 'av1', label: 'AV1 (smaller)' },
];

/** Screen video quality presets for RDP recordings (x264 CRF 34 / 30 / 24 on the server). */
export const VIDEO_QUALITIES = [
  { value: 'low', label: 'Low (smallest files)' },
  { value: 'standard', label: 'Standard' },
  { value: 'high', label: 'High (sharpest text)' },
];

/** Channel rules the SSH proxy enforces (checkbox name = policy field). */
export const SSH_POLICY_FLAGS = [
  { name: 'allow_file_transfer', label: 'File transfer (scp, sftp)' },
  { name: 'allow_port_forwarding', label: 'Port forwarding' },
  { name: 'allow_agent_forwarding', label: 'Agent forwarding' },
  { name: 'allow_x11_forwarding', label: 'X11 forwarding' },
  { name: 'trust_on_first_use', label: 'Trust a target’s host key on first use' },
];

export const PERMISSIONS = [
  { value: 'connect', label: 'Connect' },
  { value: 'view_recordings', label: 'View recordings' },
  { value: 'monitor_live', label: 'Monitor live' },
  { value: 'manage', label: 'Manage' },
];

/** The policy part of a safe form. */
export function policyFieldset(policy = DEFAULT_POLICY, { disabled = false } = {}) {
  const p = { ...DEFAULT_POLICY, ...(policy || {}) };
  const retention = h('input', {
    name: 'retention_days', type: 'number', min: '1', max: '36500', step: '1', required: true,
    value: String(p.retention_days), class: 'input-narrow',
  });
  const fs = h('fieldset', { class: 'policy-fieldset', disabled },
    h('legend', { text: 'Policy' }),
    h('div', { class: 'checkbox-row' },
      checkbox('record_sessions', 'Record sessions', p.record_sessions),
      checkbox('live_monitoring', 'Live monitoring', p.live_monitoring),
      checkbox('require_dual_authorization', 'Dual authorization', p.require_dual_authorization),
      checkbox('encrypt_recordings', 'Encrypt recordings at rest', p.encrypt_recordings)),
    field('Retention (days)', retention, 'How long recordings are kept: 1 to 36500 days.'),
    checkboxGroup('Allowed protocols', 'allowed_protocols', PROTOCOLS, p.allowed_protocols || []),
    h('fieldset', { class: 'checkbox-group', id: 'ssh-policy' },
      h('legend', { text: 'SSH sessions' }),
      h('div', { class: 'checkbox-row' },
        SSH_POLICY_FLAGS.map((f) => checkbox(f.name, f.label, Boolean(p[f.name])))),
      h('p', { class: 'field-hint', text: 'Forwarding is refused unless allowed here. Trust on first use pins an ' +
        'unpinned target’s host key at its first session (audited); otherwise such targets are refused.' })),
    h('fieldset', { class: 'checkbox-group', id: 'rdp-policy' },
      h('legend', { text: 'RDP sessions' }),
      field('Clipboard', select('clipboard', CLIPBOARD_RULES, { value: p.clipboard }),
        'Text copied between the person’s computer and the server; files and pictures never cross. Logged ' +
        'text is on the timeline, searchable, and meets the keystroke risk rules; otherwise the timeline says ' +
        'only who copied how much.'),
      h('div', { class: 'field-row' },
        field('Codec', select('video_codec', VIDEO_CODECS, { value: p.video_codec }),
          'AV1 keeps long retention small; H.264 needs several times less CPU.'),
        field('Frames per second (at most)', h('input', {
          name: 'video_max_fps', type: 'number', min: '1', max: '30', step: '1', required: true,
          value: String(p.video_max_fps), class: 'input-narrow',
        }), 'Only changed frames are recorded: 1 to 30.'),
        field('Quality', select('video_quality', VIDEO_QUALITIES, { value: p.video_quality }),
          'Higher quality keeps small text sharp; lower makes smaller files.'))));
  return fs;
}

export function readPolicy(form) {
  const bool = (name) => Boolean(form.querySelector(`input[name="${name}"]`).checked);
  return {
    record_sessions: bool('record_sessions'),
    live_monitoring: bool('live_monitoring'),
    require_dual_authorization: bool('require_dual_authorization'),
    encrypt_recordings: bool('encrypt_recordings'),
    retention_days: Number.parseInt(form.querySelector('input[name="retention_days"]').value, 10),
    allowed_protocols: checkedValues(form, 'allowed_protocols'),
    ...Object.fromEntries(SSH_POLICY_FLAGS.map((f) => [f.name, bool(f.name)])),
    video_codec: form.querySelector('select[name="video_codec"]').value,
    video_max_fps: Number.parseInt(form.querySelector('input[name="video_max_fps"]').value, 10),
    video_quality: form.querySelector('select[name="video_quality"]').value,
    clipboard: form.querySelector('select[name="clipboard"]').value,
  };
}

export function validatePolicy(policy) {
  if (!Number.isInteger(policy.retention_days) || policy.retention_days < 1 || policy.retention_days > 36500) {
    return 'Retention must be a whole number of days between 1 and 36500.';
  }
  if (!Number.isInteger(policy.video_max_fps) || policy.video_max_fps < 1 || policy.video_max_fps > 30) {
    return 'Video frames per second must be a whole number between 1 and 30.';
  }
  return null;
}

export function protocolLabel(value) {
  const p = PROTOCOLS.find((x) => x.value === value);
  return p ? p.label : String(value || '');
}

/** Badges summarising a policy. */
export function policySummary(policy) {
  const p = policy || {};
  const protocols = p.allowed_protocols || [];
  return h('span', { class: 'badge-list policy-summary' },
    p.record_sessions ? badge('Recorded', 'info') : badge('Not recorded', 'warn'),
    p.live_monitoring ? badge('Live monitoring', 'info') : null,
    p.require_dual_authorization ? badge('Dual authorization', 'info') : null,
    p.encrypt_recordings ? badge('Encrypted at rest', 'info') : null,
    p.retention_days ? badge(`${p.retention_days} days`, 'neutral') : null,
    p.allow_port_forwarding ? badge('Port forwarding', 'warn') : null,
    p.allow_agent_forwarding ? badge('Agent forwarding', 'warn') : null,
    p.allow_x11_forwarding ? badge('X11', 'warn') : null,
    p.allow_file_transfer === false ? badge('No file transfer', 'info') : null,
    p.trust_on_first_use ? badge('Trust on first use', 'warn') : null,
    protocols.includes('rdp') && p.clipboard === 'allow_log' ? badge('Clipboard (logged)', 'info') : null,
    protocols.includes('rdp') && p.clipboard === 'allow' ? badge('Clipboard (not logged)', 'warn') : null,
    protocols.includes('rdp') && p.video_codec
      && (p.video_codec !== 'av1' || p.video_max_fps !== 5 || p.video_quality !== 'standard')
      ? badge(`RDP video ${p.video_codec.toUpperCase()} ${p.video_max_fps} fps · ${p.video_quality}`, 'neutral') : null,
    protocols.length
      ? badge(protocols.map((x) => x.toUpperCase()).join(' · '), 'protocol')
      : badge('No protocols', 'warn'));
}
