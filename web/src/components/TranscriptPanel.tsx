// The live transcript: partial lines are replaced in place by their final text; the
// transcription host starts and stops it; anyone can download it; the host can delete it.
import { useLayoutEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useObservable } from '../store';
import type { TranscriptStore } from '../transcript';
import type { Participant } from '../types';
import { Icon } from './Icon';
import { ConfirmDialog, Menu, MenuItem } from './ui';

const clock = (seconds: number) => {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
};

export function TranscriptPanel({
  transcript,
  you,
  participants,
}: {
  transcript: TranscriptStore;
  you: Participant;
  participants: Participant[];
}) {
  const { t } = useTranslation();
  const { lines, transcription } = useObservable(transcript);
  const list = useRef<HTMLOListElement>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const names = new Map(participants.map((p) => [p.participant_id, p.display_name]));
  const hostName = (transcription?.host_id && names.get(transcription.host_id)) || '—';
  const isTranscriber = transcription?.host_id === you.participant_id;
  const active = transcription?.status === 'active';
  const canStop = active && (isTranscriber || you.role === 'host');

  useLayoutEffect(() => {
    const element = list.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [lines]);

  async function toggle() {
    setBusy(true);
    try {
      if (active) await transcript.stop();
      else await transcript.start();
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="transcript-panel">
      {transcription?.enabled === false || transcription === null ? (
        <p className="panel-note">{t('transcript.unavailable')}</p>
      ) : (
        <div className="transcript-status">
          <p className="panel-note">
            {active ? (
              <span className="live-pill" data-testid="transcript-live">
                <span className="live-dot" /> {t('transcript.live')}
              </span>
            ) : null}
            {active || isTranscriber
              ? t('transcript.hostIs', { name: hostName })
              : t('transcript.onlyHost', { name: hostName })}
          </p>
          {isTranscriber || canStop ? (
            <button
              type="button"
              className={`button ${active ? 'danger' : 'primary'} small`}
              disabled={busy || (!active && !isTranscriber)}
              onClick={() => void toggle()}
              data-testid="transcription-toggle"
            >
              <Icon name={active ? 'stopPresent' : 'transcript'} size={18} />
              {active ? t('transcript.stop') : t('transcript.start')}
            </button>
          ) : null}
        </div>
      )}
      <ol className="segments" ref={list} aria-live="polite" aria-label={t('transcript.title')}>
        {lines.length === 0 ? <li className="empty">{t('transcript.empty')}</li> : null}
        {lines.map((line) => (
          <li
            key={line.utterance_id}
            className={`segment ${line.final ? 'final' : 'partial'}`}
            data-testid="transcript-segment"
            data-final={line.final}
            data-utterance={line.utterance_id}
          >
            <div className="segment-head">
              <span className="segment-speaker">
                {(line.participant_id && names.get(line.participant_id)) || line.display_name || '—'}
              </span>
              <time>{clock(line.started_at)}</time>
            </div>
            <p>{line.text}</p>
          </li>
        ))}
      </ol>
      {lines.some((line) => line.final) ? (
        <div className="transcript-footer">
          <Menu
            label={t('transcript.download')}
            align="start"
            placement="above"
            trigger={({ toggle: open }) => (
              <button type="button" className="button secondary small" onClick={open}>
                <Icon name="download" size={18} />
                {t('transcript.download')}
              </button>
            )}
          >
            {(close) =>
              (['txt', 'srt', 'vtt', 'json'] as const).map((format) => (
                <MenuItem
                  key={format}
                  onSelect={() => {
                    close();
                    transcript.download(format);
                  }}
                >
                  .{format}
                </MenuItem>
              ))
            }
          </Menu>
          {you.role === 'host' ? (
            <button
              type="button"
              className="button text small danger-text"
              onClick={() => setConfirmDelete(true)}
              data-testid="transcript-delete"
            >
              <Icon name="delete" size={18} />
              {t('transcript.delete')}
            </button>
          ) : null}
        </div>
      ) : null}
      {confirmDelete ? (
        <ConfirmDialog
          text={t('transcript.deleteConfirm')}
          confirm={t('transcript.delete')}
          onCancel={() => setConfirmDelete(false)}
          onConfirm={() => {
            setConfirmDelete(false);
            void transcript.deleteTranscript();
          }}
        />
      ) : null}
    </div>
  );
}
