// A chat: history and live messages, edit/delete your own, who is typing. It reads one
// ChatStore, whatever conversation that store is for.
import { type KeyboardEvent, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ChatStore } from '../chat';
import { timeOfDay } from '../i18n';
import { useObservable } from '../store';
import type { ChatMessage } from '../types';
import { Icon } from './Icon';
import { IconButton } from './ui';

/** `you`: the reader's participant id; `moderator`: they may delete anyone's message. */
export function ChatPanel({ chat, you, moderator }: { chat: ChatStore; you: string; moderator: boolean }) {
  const { t, i18n } = useTranslation();
  const state = useObservable(chat);
  const [draft, setDraft] = useState('');
  const [editing, setEditing] = useState<string | null>(null);
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
  }, [state.messages.length, state.typing.length]);

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
        {state.messages.length === 0 ? <li className="empty">{t('chat.empty')}</li> : null}
        {state.messages.map((message, index) => {
          const previous = state.messages[index - 1];
          const grouped =
            previous &&
            previous.message_type === 'user' &&
            message.message_type === 'user' &&
            previous.participant_id === message.participant_id &&
            Date.parse(message.created_at) - Date.parse(previous.created_at) < 120_000;
          return message.message_type === 'system' ? (
            <li key={message.id} className="system-message">
              {message.content}
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
              onDelete={() => void chat.delete(message.id)}
              timeText={timeOfDay(new Date(message.created_at), i18n.language)}
            />
          );
        })}
      </ol>
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
          <span data-testid="chat-text">{message.content}</span>
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
