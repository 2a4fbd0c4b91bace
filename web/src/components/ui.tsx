// Small building blocks shared by the pages: buttons with tooltips, menus, dialogs, avatars.
import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import type React from 'react';
import { useTranslation } from 'react-i18next';
import { LANGUAGES, type Language, setLanguage } from '../i18n';
import { Icon, type IconName } from './Icon';

/** Copy to the clipboard, with the old way for browsers that refuse the new one. */
export async function copyText(text: string) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
}

export const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform);
export const shortcut = (key: string) => (isMac ? `⌘${key}` : `Ctrl+${key}`);

/** A round icon button: the label is its accessible name and its tooltip. */
export function IconButton({
  icon,
  label,
  hint,
  onClick,
  variant = 'plain',
  pressed,
  badge,
  disabled,
  className = '',
  testId,
}: {
  icon: IconName;
  label: string;
  hint?: string; // a keyboard shortcut, shown in the tooltip
  onClick?: () => void;
  variant?: 'plain' | 'control' | 'off' | 'danger' | 'active';
  pressed?: boolean;
  badge?: number;
  disabled?: boolean;
  className?: string;
  testId?: string;
}) {
  return (
    <button
      type="button"
      className={`icon-button ${variant} ${className}`}
      aria-label={label}
      aria-pressed={pressed}
      data-tip={hint ? `${label} (${hint})` : label}
      aria-keyshortcuts={hint ? hint.replace('⌘', 'Meta+').replace('Ctrl+', 'Control+') : undefined}
      onClick={onClick}
      disabled={disabled}
      data-testid={testId}
    >
      <Icon name={icon} />
      {badge ? (
        <span className="badge" aria-hidden="true">
          {badge > 99 ? '99+' : badge}
        </span>
      ) : null}
    </button>
  );
}

export function LanguageSwitch({ compact = false }: { compact?: boolean }) {
  const { t, i18n } = useTranslation();
  const id = useId();
  return (
    <div className={`language ${compact ? 'compact' : ''}`}>
      <label htmlFor={id} className="sr-only">
        {t('common.language')}
      </label>
      <Icon name="language" size={18} />
      <select
        id={id}
        data-testid="language"
        value={i18n.resolvedLanguage ?? i18n.language}
        onChange={(event) => setLanguage(event.target.value as Language)}
      >
        {Object.entries(LANGUAGES).map(([code, name]) => (
          <option key={code} value={code}>
            {name}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A popover menu anchored to its trigger. Opening it focuses the first item; arrow keys, Home
 * and End move between items; Escape (or choosing an item) closes it and gives focus back to
 * the trigger; Tab and an outside click close it. */
export function Menu({
  trigger,
  children,
  label,
  align = 'end',
  placement = 'below',
}: {
  trigger: (props: { open: boolean; toggle: () => void }) => ReactNode;
  children: (close: () => void) => ReactNode;
  label: string;
  align?: 'start' | 'end';
  placement?: 'below' | 'above';
}) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const anchorId = useId();
  const items = () => [...(menu.current?.querySelectorAll<HTMLElement>('[role^=menuitem]:not(:disabled)') ?? [])];
  const close = (refocus = true) => {
    setOpen(false);
    if (refocus) document.getElementById(anchorId)?.querySelector<HTMLElement>('button')?.focus();
  };
  useEffect(() => {
    if (!open) return;
    menu.current?.querySelector<HTMLElement>('[role^=menuitem]')?.focus();
    const onDown = (event: MouseEvent) => {
      if (!ref.current?.contains(event.target as Node)) setOpen(false);
    };
    // Escape while focus is somewhere else (the menu's own keys are handled below).
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape' || event.defaultPrevented) return;
      event.preventDefault();
      setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);
  const onKeyDown = (event: React.KeyboardEvent) => {
    if (!open) return;
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      close();
      return;
    }
    if (event.key === 'Tab') {
      close(false);
      return;
    }
    const list = items();
    if (!list.length) return;
    const at = list.indexOf(document.activeElement as HTMLElement);
    const next =
      event.key === 'ArrowDown'
        ? (at + 1) % list.length
        : event.key === 'ArrowUp'
          ? (at - 1 + list.length) % list.length
          : event.key === 'Home'
            ? 0
            : event.key === 'End'
              ? list.length - 1
              : null;
    if (next === null) return;
    event.preventDefault();
    list[next].focus();
  };
  return (
    <div className="menu-anchor" id={anchorId} ref={ref} onKeyDown={onKeyDown}>
      {trigger({ open, toggle: () => setOpen((o) => !o) })}
      {open ? (
        <div className={`menu ${align} ${placement}`} role="menu" aria-label={label} ref={menu}>
          {children(() => close())}
        </div>
      ) : null}
    </div>
  );
}

export function MenuItem({
  icon,
  children,
  onSelect,
  danger,
  checked,
}: {
  icon?: IconName;
  children: ReactNode;
  onSelect: () => void;
  danger?: boolean;
  checked?: boolean; // a choice among several (menuitemradio)
}) {
  return (
    <button
      type="button"
      role={checked === undefined ? 'menuitem' : 'menuitemradio'}
      aria-checked={checked}
      className={`menu-item ${danger ? 'danger' : ''} ${checked ? 'checked' : ''}`}
      tabIndex={-1}
      onClick={onSelect}
    >
      {checked !== undefined ? <Icon name="check" size={20} className={checked ? '' : 'invisible'} /> : null}
      {icon ? <Icon name={icon} size={20} /> : null}
      <span>{children}</span>
    </button>
  );
}

/** A modal question with a confirm button; the confirm button gets focus, Tab stays inside,
 * and Escape cancels (only the dialog: it is heard first, and goes no further). */
export function ConfirmDialog({
  text,
  confirm,
  onConfirm,
  onCancel,
}: {
  text: string;
  confirm: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  const button = useRef<HTMLButtonElement>(null);
  const dialog = useRef<HTMLDivElement>(null);
  const cancel = useRef(onCancel);
  useEffect(() => {
    cancel.current = onCancel;
  }, [onCancel]);
  // Once, on opening: a parent re-rendering (a new onCancel) must not move the focus back.
  useEffect(() => {
    button.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        event.preventDefault(); // not also a panel behind it
        event.stopPropagation();
        cancel.current();
      } else if (event.key === 'Tab' && dialog.current) {
        const buttons = [...dialog.current.querySelectorAll('button')];
        const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
        event.preventDefault();
        buttons[(at + (event.shiftKey ? buttons.length - 1 : 1)) % buttons.length]?.focus();
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, []);
  return (
    <div className="scrim" onMouseDown={(event) => event.target === event.currentTarget && onCancel()}>
      <div className="dialog" role="alertdialog" aria-modal="true" aria-label={text} ref={dialog}>
        <p>{text}</p>
        <div className="dialog-actions">
          <button type="button" className="button text" onClick={onCancel}>
            {t('common.cancel')}
          </button>
          <button type="button" className="button danger" ref={button} onClick={onConfirm}>
            {confirm}
          </button>
        </div>
      </div>
    </div>
  );
}

const HUES = [210, 262, 330, 20, 145, 190, 45, 290];

export function hueFor(id: string) {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return HUES[Math.abs(hash) % HUES.length];
}

export function Avatar({ name, id, size = 40 }: { name: string; id: string; size?: number }) {
  const initial = (name.trim()[0] ?? '?').toUpperCase();
  return (
    <span
      className="avatar"
      aria-hidden="true"
      style={{ width: size, height: size, fontSize: size * 0.42, background: `hsl(${hueFor(id)} 55% 45%)` }}
    >
      {initial}
    </span>
  );
}
