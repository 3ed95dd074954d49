// RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30-second steps) for the browser tests.
import { createHmac } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 → bytes; ignores case, spaces and '=' padding. */
export function base32Decode(text) {
  const clean = String(text).replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const index = ALPHABET.indexOf(ch);
    if (index < 0) throw new Error(`invalid base32 character ${JSON.stringify(ch)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The time step for `ms` (default now). */
export function totpStep(ms = Date.now(), period = 30) {
  return Math.floor(ms / 1000 / period);
}

/** The code for time step `step` of a base32 `secret`. */
export function totpCode(secret, step = totpStep(), digits = 6) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/**
 * A code for a step later than `lastUsedStep` (servers refuse a replayed step): waits for the
 * next 30-second step when needed. Returns {code, step}.
 */
export async function freshTotp(secret, lastUsedStep = -1, period = 30) {
  let step = totpStep(Date.now(), period);
  if (step <= lastUsedStep) {
    const waitMs = (lastUsedStep + 1) * period * 1000 - Date.now() + 250;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, waitMs)));
    step = totpStep(Date.now(), period);
  }
  return { code: totpCode(secret, step), step };
}

// RFC 6238 appendix B vector (SHA-1, 8 digits at T=59 s) — checked when run directly.
if (import.meta.url === `file://${process.argv[1]}`) {
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // "12345678901234567890"
  const code = totpCode(secret, totpStep(59 * 1000), 8);
  console.log(code === '94287082' ? 'totp: RFC 6238 vector ok' : `totp: MISMATCH ${code}`);
}
