import type { ApiKey } from './settings.js';

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi;

/** Removes `user:password@` from every URL in `text` (`https://u:p@host` → `https://host`). */
export function stripUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1');
}

/**
 * Replaces every form of the API key (raw, `api:<key>` base64, URL-encoded) in `text` and
 * removes credentials from URLs.
 */
export function redact(text: string, key: ApiKey | undefined): string {
  text = stripUrlCredentials(text);
  if (key === undefined) return text;
  const raw = key.reveal();
  if (raw.length === 0) return text;
  const forms = [
    raw,
    Buffer.from(`api:${raw}`).toString('base64'),
    encodeURIComponent(raw),
    Buffer.from(raw).toString('base64'),
  ];
  let out = text;
  for (const f of forms) out = out.split(f).join('***');
  return out;
}
