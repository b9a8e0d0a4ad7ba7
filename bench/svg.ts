// The few SVG elements the bench's charts are drawn with. Hand-written rather than a charting
// library: three bar and timeline charts need rectangles, lines and text, and a file that renders
// the same on GitHub and in a browser (no script, no external font or style sheet).

export const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const n = (v: number) => String(Math.round(v * 10) / 10);

export function svg(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" ${FONT} font-size="13">`,
    `<title>${escape(title)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

export function rect(x: number, y: number, width: number, height: number, fill: string, tooltip?: string): string {
  const tip = tooltip === undefined ? '' : `<title>${escape(tooltip)}</title>`;
  return `<rect x="${n(x)}" y="${n(y)}" width="${n(Math.max(0, width))}" height="${n(height)}" fill="${fill}">${tip}</rect>`;
}

/** `dash`: SVG's stroke-dasharray ("5 4"), for a line that marks a goal rather than a value. */
export function line(x1: number, y1: number, x2: number, y2: number, stroke: string, width = 1, dash?: string): string {
  const dashes = dash ? ` stroke-dasharray="${dash}"` : '';
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${stroke}" stroke-width="${width}"${dashes}/>`;
}

export function text(x: number, y: number, content: string, opts: { anchor?: 'start' | 'middle' | 'end'; size?: number; weight?: 'bold'; fill?: string } = {}): string {
  const anchor = opts.anchor && opts.anchor !== 'start' ? ` text-anchor="${opts.anchor}"` : '';
  const size = opts.size ? ` font-size="${opts.size}"` : '';
  const weight = opts.weight ? ` font-weight="${opts.weight}"` : '';
  return `<text x="${n(x)}" y="${n(y)}"${anchor}${size}${weight} fill="${opts.fill ?? '#222222'}">${escape(content)}</text>`;
}

/** A colour key: a small swatch and its label per entry, side by side from (x, y). */
export function legend(x: number, y: number, entries: readonly { label: string; fill: string }[]): string[] {
  const out: string[] = [];
  let at = x;
  for (const e of entries) {
    out.push(rect(at, y - 10, 12, 12, e.fill), text(at + 17, y, e.label, { size: 12 }));
    // Width from the label's length: an estimate (no font metrics here), generous enough for 12 px text.
    at += 17 + e.label.length * 6.6 + 18;
  }
  return out;
}

/** Round numbers for an axis from 0 to at least `top`: about `count` steps of 1, 2 or 5 × 10^k. */
export function ticks(top: number, count = 5): number[] {
  const raw = Math.max(top, 1e-9) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v < top + step; v += step) out.push(v);
  return out;
}
