// A chat: history and live messages, edit/delete your own, who is typing. It reads one
// ChatStore, whatever conversation that store is for. Messages on their way show as sending,
// refused ones as failed with their text and a retry; links are links (Linkified); system
// lines are worded here, in the reader's language, from their typed note.
import { type KeyboardEvent, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { type TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import type { ChatStore, Outgoing } from '../chat';
import { timeOfDay } from '../i18n';
import { useObservable } from '../store';
import type { ChatMessage } from '../types';
import './chat.css';
import { Icon } from './Icon';
import { Linkified } from './Linkified';
import { ConfirmDialog, IconButton } from './ui';

/** A system line in the reader's language; messages stored before typed notes keep their text. */
export function systemText(t: TFunction, message: ChatMessage): string {
  const note = message.system;
  if (!note) return message.content;
  // A kind this client does not know yet reads as the server's English text.
  return t(`system.${note.kind}`, {
    name: note.name ?? '',
    previous: note.previous_name ?? '',
    defaultValue: message.content,
  });
}

/** Why a message did not go out, by the server's error code. */
const FAILURES: Record<string, string> = {
  rate_limited: 'chat.failedTooFast',
  validation_failed: 'chat.failedInvalid',
  network_error: 'chat.failedOffline',
  service_unavailable: 'chat.failedOffline',
  timeout: 'chat.failedNoAnswer',
};

/** `you`: the reader's participant id; `moderator`: they may delete anyone's message. */
export function ChatPanel({ chat, you, moderator }: { chat: ChatStore; you: string; moderator: boolean }) {
  const { t, i18n } = useTranslation();
  const state = useObservable(chat);
  const [draft, setDraft] = useState('');
  const [editing, setEditing] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<ChatMessage | null>(null);
  const returnFocus = useRef<HTMLElement | null>(null);
  const list = useRef<HTMLOListElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    chat.setOpen(true);
    return () => chat.setOpen(false);
  }, [chat]);

  // Follow new messages unless the reader scrolled up.
  useLayoutEffect(() => {
    const element = list.current;
    if (element && stick.current) element.scrollTop = element.scrollHeight;
  }, [state.messages.length, state.outgoing.length, state.typing.length]);

  /** Deleting someone else's message (a host's power) is asked about first. */
  function askToDelete(message: ChatMessage) {
    if (message.participant_id === you) {
      void chat.delete(message.id);
      return;
    }
    returnFocus.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setConfirming(message);
  }

  function closeConfirm() {
    setConfirming(null);
    const back = returnFocus.current;
    returnFocus.current = null;
    // The delete button goes with its message; then the message box takes the focus.
    if (back?.isConnected) back.focus();
    else document.querySelector<HTMLTextAreaElement>('[data-testid="chat-input"]')?.focus();
  }

  function send() {
    if (!draft.trim()) return;
    void chat.send(draft);
    setDraft('');
  }

  function onKey(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  }

  const typingNames = state.typing.map((entry) => entry.name);
  return (
    <div className="chat-panel">
      <ol
        className="messages"
        ref={list}
        aria-live="polite"
        aria-label={t('chat.title')}
        onScroll={(event) => {
          const element = event.currentTarget;
          stick.current = element.scrollHeight - element.scrollTop - element.clientHeight < 40;
        }}
      >
        {state.messages.length === 0 && state.outgoing.length === 0 ? (
          <li className="empty">{t('chat.empty')}</li>
        ) : null}
        {state.messages.map((message, index) => {
          const previous = state.messages[index - 1];
          const grouped =
            previous &&
            previous.message_type === 'user' &&
            message.message_type === 'user' &&
            previous.participant_id === message.participant_id &&
            Date.parse(message.created_at) - Date.parse(previous.created_at) < 120_000;
          return message.message_type === 'system' ? (
            <li key={message.id} className="system-message" data-testid="system-message">
              {systemText(t, message)}
            </li>
          ) : (
            <Message
              key={message.id}
              message={message}
              own={message.participant_id === you}
              canDelete={message.participant_id === you || moderator}
              grouped={!!grouped}
              editing={editing === message.id}
              onEdit={() => setEditing(message.id)}
              onCancel={() => setEditing(null)}
              onSave={(content) => {
                setEditing(null);
                if (content.trim() && content.trim() !== message.content) void chat.edit(message.id, content);
              }}
              onDelete={() => askToDelete(message)}
              timeText={timeOfDay(new Date(message.created_at), i18n.language)}
            />
          );
        })}
        {state.outgoing.map((entry) => (
          <OutgoingMessage
            key={entry.clientId}
            entry={entry}
            onRetry={() => void chat.retry(entry.clientId)}
            onDiscard={() => chat.discard(entry.clientId)}
          />
        ))}
      </ol>
      {confirming ? (
        <ConfirmDialog
          text={t('chat.deleteConfirm', { name: confirming.display_name })}
          confirm={t('chat.delete')}
          onCancel={closeConfirm}
          onConfirm={() => {
            void chat.delete(confirming.id);
            closeConfirm();
          }}
        />
      ) : null}
      <div className="typing" aria-live="polite" data-testid="typing">
        {typingNames.length ? t('chat.typing', { count: typingNames.length, names: typingNames.join(', ') }) : ''}
      </div>
      <form
        className="composer"
        onSubmit={(event) => {
          event.preventDefault();
          send();
        }}
      >
        <textarea
          rows={1}
          value={draft}
          placeholder={t('chat.placeholder')}
          aria-label={t('chat.placeholder')}
          maxLength={2000}
          onChange={(event) => {
            setDraft(event.target.value);
            if (event.target.value) chat.typing();
          }}
          onKeyDown={onKey}
          data-testid="chat-input"
        />
        <button type="submit" className="send-button" aria-label={t('chat.send')} disabled={!draft.trim()}>
          <Icon name="send" size={20} />
        </button>
      </form>
    </div>
  );
}

function Message({
  message,
  own,
  canDelete,
  grouped,
  editing,
  onEdit,
  onCancel,
  onSave,
  onDelete,
  timeText,
}: {
  message: ChatMessage;
  own: boolean;
  canDelete: boolean;
  grouped: boolean;
  editing: boolean;
  onEdit: () => void;
  onCancel: () => void;
  onSave: (content: string) => void;
  onDelete: () => void;
  timeText: string;
}) {
  const { t } = useTranslation();
  return (
    <li
      className={`message ${own ? 'own' : ''} ${grouped ? 'grouped' : ''}`}
      data-testid="chat-message"
      data-id={message.id}
    >
      {grouped ? null : (
        <div className="message-head">
          <span className="message-author">
            {own ? `${message.display_name} (${t('common.you')})` : message.display_name}
          </span>
          <time dateTime={message.created_at}>{timeText}</time>
        </div>
      )}
      {editing ? (
        // Keyed by the text, so the draft starts from the message as it is now.
        <MessageEditor key={message.content} initial={message.content} onCancel={onCancel} onSave={onSave} />
      ) : (
        <p className="message-body">
          <span data-testid="chat-text">
            <Linkified text={message.content} />
          </span>
          {message.edited_at ? <span className="edited"> ({t('chat.edited')})</span> : null}
        </p>
      )}
      {canDelete && !editing ? (
        <div className="message-actions">
          {own ? <IconButton icon="edit" label={t('chat.edit')} onClick={onEdit} className="small" /> : null}
          <IconButton icon="delete" label={t('chat.delete')} onClick={onDelete} className="small" />
        </div>
      ) : null}
    </li>
  );
}

/** One of the reader's messages the server has not shown yet: sending, or failed with why,
 * a retry (after the wait a rate limit asked for) and a way to drop it. */
function OutgoingMessage({
  entry,
  onRetry,
  onDiscard,
}: {
  entry: Outgoing;
  onRetry: () => void;
  onDiscard: () => void;
}) {
  const { t } = useTranslation();
  const [now, setNow] = useState(Date.now);
  const waitMs = entry.status === 'failed' && entry.retryAt ? entry.retryAt - now : 0;
  useEffect(() => {
    if (waitMs <= 0) return;
    const timer = window.setTimeout(() => setNow(Date.now()), Math.min(waitMs, 1000));
    return () => clearTimeout(timer);
  }, [waitMs]);
  const failed = entry.status === 'failed';
  return (
    <li
      className={`message own outgoing ${failed ? 'failed' : 'sending'}`}
      data-testid="chat-outgoing"
      data-status={entry.status}
    >
      <p className="message-body">
        <span data-testid="chat-text">
          <Linkified text={entry.content} />
        </span>
      </p>
      {failed ? (
        <div className="outgoing-status" role="alert">
          <Icon name="warning" size={16} />
          <span>{t(FAILURES[entry.error ?? ''] ?? 'chat.failed')}</span>
          <button type="button" className="button text small" disabled={waitMs > 0} onClick={onRetry}>
            {t('chat.retry')}
          </button>
          <button type="button" className="button text small" onClick={onDiscard}>
            {t('chat.discard')}
          </button>
          {waitMs > 0 ? (
            <span className="outgoing-wait">{t('chat.retryIn', { count: Math.ceil(waitMs / 1000) })}</span>
          ) : null}
        </div>
      ) : (
        <div className="outgoing-status">{t('chat.sending')}</div>
      )}
    </li>
  );
}

function MessageEditor({
  initial,
  onCancel,
  onSave,
}: {
  initial: string;
  onCancel: () => void;
  onSave: (content: string) => void;
}) {
  const { t } = useTranslation();
  const [text, setText] = useState(initial);
  return (
    <form
      className="message-edit"
      onSubmit={(event) => {
        event.preventDefault();
        onSave(text);
      }}
    >
      <textarea
        value={text}
        autoFocus
        aria-label={t('chat.editing')}
        maxLength={2000}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === 'Escape') onCancel();
          if (event.key === 'Enter' && !event.shiftKey) {
            event.preventDefault();
            onSave(text);
          }
        }}
      />
      <div className="message-edit-actions">
        <button type="button" className="button text small" onClick={onCancel}>
          {t('common.cancel')}
        </button>
        <button type="submit" className="button primary small">
          {t('common.save')}
        </button>
      </div>
    </form>
  );
}
