// Chat text with its web and mail addresses as links. Only what starts with http://, https://
// or mailto: becomes one, and only after URL parsing agrees on that scheme, so `javascript:`,
// `data:` and the like stay text; everything is rendered as React text nodes, never as HTML.
import type { ReactNode } from 'react';

const CANDIDATE = /\b(?:https?:\/\/|mailto:)[^\s<>"]+/gi;
const SAFE_SCHEMES = new Set(['http:', 'https:', 'mailto:']);
const TRAILING = /[.,;:!?'"*_~]$/;

/** The address a candidate stands for, with prose punctuation after it left out, or null. */
export function safeLink(candidate: string): { text: string; href: string } | null {
  let text = candidate;
  for (;;) {
    if (TRAILING.test(text)) text = text.slice(0, -1);
    // A closing bracket belongs to the link only if the link opened it: "(see https://x/a_(b))".
    else if (/[)\]}]$/.test(text) && count(text, openerOf(text)) < count(text, text.at(-1)!)) text = text.slice(0, -1);
    else break;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (!SAFE_SCHEMES.has(url.protocol)) return null;
  if (url.protocol === 'mailto:' ? !url.pathname.includes('@') : !url.hostname) return null;
  return { text, href: url.href };
}

/** The bracket that the last character of `text` closes. */
function openerOf(text: string) {
  return { ')': '(', ']': '[', '}': '{' }[text.at(-1)!] ?? '';
}

function count(text: string, char: string) {
  return text.split(char).length - 1;
}

export function Linkified({ text }: { text: string }) {
  const parts: ReactNode[] = [];
  let at = 0;
  for (const match of text.matchAll(CANDIDATE)) {
    const link = safeLink(match[0]);
    if (!link) continue;
    const start = match.index;
    if (start > at) parts.push(text.slice(at, start));
    parts.push(
      <a key={start} href={link.href} target="_blank" rel="noopener noreferrer">
        {link.text}
      </a>,
    );
    at = start + link.text.length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return <>{parts}</>;
}
