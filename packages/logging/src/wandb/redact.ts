import type { ApiKey } from './settings.js';

/** Replaces every form of the API key (raw, `api:<key>` base64, URL-encoded) in `text`. */
export function redact(text: string, key: ApiKey | undefined): string {
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
