// On the end screen of a meeting that ended: its transcript, for the people who were in it,
// until the room's retention deletes it. Shown only when there is one to download (outsiders
// are refused by the API and see nothing here).
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api';
import { Icon } from './Icon';

const FORMATS = ['txt', 'srt', 'vtt', 'json'] as const;

export function EndTranscript({ code }: { code: string }) {
  const { t } = useTranslation();
  const [lines, setLines] = useState(0);
  useEffect(() => {
    let cancelled = false;
    api.transcripts(code).then(
      (page) => !cancelled && setLines(page.items.length),
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [code]);
  if (lines === 0) return null;
  return (
    <section className="end-transcript" data-testid="end-transcript" aria-label={t('end.transcriptTitle')}>
      <p>{t('end.transcriptKept')}</p>
      <div className="end-transcript-formats">
        {FORMATS.map((format) => (
          <button
            key={format}
            type="button"
            className="button secondary small"
            onClick={() => void api.exportTranscript(code, format)}
          >
            <Icon name="download" size={18} />.{format}
          </button>
        ))}
      </div>
    </section>
  );
}
