import { createHash } from 'node:crypto';

/** A media value in a history row: W&B's `html-file` type, rendered by its media panels. */
export interface HtmlFileValue {
  _type: 'html-file';
  path: string;
  sha256: string;
  size: number;
}

/** An HTML page that shows one SVG picture (W&B does not render raw SVG files). */
export function svgToHtml(svg: string, title: string): string {
  const esc = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const body = svg.replace(/^\s*<\?xml[^>]*\?>\s*/, '');
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${esc}</title><style>body{margin:0}svg{max-width:100%;height:auto}</style></head><body>\n${body}\n</body></html>\n`;
}

/** The run file name and history value of a picture logged under `key` at `step`. */
export function htmlMedia(
  key: string,
  step: number,
  html: string,
): { name: string; value: HtmlFileValue; bytes: Buffer } {
  const bytes = Buffer.from(html, 'utf8');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const safe = key.replace(/[^A-Za-z0-9_.-]+/g, '_');
  const name = `media/html/${safe}_${step}_${sha256.slice(0, 20)}.html`;
  return { name, value: { _type: 'html-file', path: name, sha256, size: bytes.length }, bytes };
}
