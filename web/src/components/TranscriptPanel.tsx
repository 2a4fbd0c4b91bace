// The live transcript: partial lines are replaced in place by their final text; the
// transcription host starts and stops it; anyone can download it.
import { useLayoutEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api';
import type { Meeting, MeetingState } from '../meeting';
import { Icon } from './Icon';
import { Menu, MenuItem } from './ui';

const clock = (seconds: number) => {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
};

export function TranscriptPanel({ meeting, state }: { meeting: Meeting; state: MeetingState }) {
  const { t } = useTranslation();
  const list = useRef<HTMLOListElement>(null);
  const [busy, setBusy] = useState(false);
  const transcription = state.transcription;
  const you = state.you.participant_id;
  const names = new Map(state.participants.map((p) => [p.participant_id, p.display_name]));
  const hostName = (transcription?.host_id && names.get(transcription.host_id)) || '—';
  const isTranscriber = transcription?.host_id === you;
  const active = transcription?.status === 'active';
  const canStop = active && (isTranscriber || state.you.role === 'host');

  useLayoutEffect(() => {
    const element = list.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [state.transcript]);

  async function toggle() {
    setBusy(true);
    try {
      if (active) await meeting.stopTranscription();
      else await meeting.startTranscription();
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
        {state.transcript.length === 0 ? <li className="empty">{t('transcript.empty')}</li> : null}
        {state.transcript.map((segment) => (
          <li
            key={segment.utterance_id}
            className={`segment ${segment.final ? 'final' : 'partial'}`}
            data-testid="transcript-segment"
            data-final={segment.final}
            data-utterance={segment.utterance_id}
          >
            <div className="segment-head">
              <span className="segment-speaker">
                {(segment.participant_id && names.get(segment.participant_id)) || segment.display_name || '—'}
              </span>
              <time>{clock(segment.started_at)}</time>
            </div>
            <p>{segment.text}</p>
          </li>
        ))}
      </ol>
      {state.transcript.some((s) => s.final) ? (
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
              (['txt', 'srt', 'vtt'] as const).map((format) => (
                <MenuItem
                  key={format}
                  onSelect={() => {
                    close();
                    void api.exportTranscript(state.room.id, format);
                  }}
                >
                  .{format}
                </MenuItem>
              ))
            }
          </Menu>
        </div>
      ) : null}
    </div>
  );
}
