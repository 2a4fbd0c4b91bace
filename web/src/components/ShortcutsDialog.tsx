// The keyboard shortcuts, listed: opened with "?" or from the settings menu.
import { useEffect, useId, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { shortcut } from './ui';

export function ShortcutsDialog({ onClose }: { onClose: () => void }) {
  const { t } = useTranslation();
  const titleId = useId();
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    button.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      event.preventDefault(); // not also a panel behind it
      onClose();
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      if (before?.isConnected) before.focus();
    };
  }, [onClose]);
  const rows: Array<[string, string]> = [
    [shortcut('D'), t('shortcuts.mic')],
    [shortcut('E'), t('shortcuts.cam')],
    ['?', t('shortcuts.list')],
    ['Esc', t('shortcuts.escape')],
    ['↑ ↓', t('shortcuts.arrows')],
    ['Enter', t('shortcuts.send')],
    ['Shift+Enter', t('shortcuts.newline')],
  ];
  return (
    <div className="scrim" onMouseDown={(event) => event.target === event.currentTarget && onClose()}>
      <div
        className="dialog shortcuts"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        data-testid="shortcuts"
      >
        <h2 id={titleId}>{t('room.shortcuts')}</h2>
        <dl>
          {rows.map(([keys, what]) => (
            <div key={keys} className="shortcut-row">
              <dt>
                <kbd>{keys}</kbd>
              </dt>
              <dd>{what}</dd>
            </div>
          ))}
        </dl>
        <div className="dialog-actions">
          <button type="button" className="button primary" ref={button} onClick={onClose}>
            {t('common.close')}
          </button>
        </div>
      </div>
    </div>
  );
}
