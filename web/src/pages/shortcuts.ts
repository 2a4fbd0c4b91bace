// Ctrl/⌘+D toggles the microphone, Ctrl/⌘+E the camera (as in other meeting apps).
import { useEffect } from 'react';
import type { LocalMedia } from '../media/localMedia';

export function useMediaShortcuts(local: LocalMedia) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
      const key = event.key.toLowerCase();
      if (key === 'd') {
        event.preventDefault();
        local.setMic(!local.snapshot.mic);
      } else if (key === 'e') {
        event.preventDefault();
        void local.setCam(!local.snapshot.cam);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [local]);
}

/** Typing in a field is not a shortcut. */
const typing = (target: EventTarget | null) =>
  target instanceof HTMLElement &&
  (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));

/** "?" (Shift+/ on most layouts) opens the list of shortcuts. */
export function useShortcutsKey(open: () => void) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== '?' || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      event.preventDefault();
      open();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open]);
}
