// Everyone knows, everyone sees: a banner when transcription starts or stops (and on joining a
// meeting where it runs), a persistent "Transcribing" indicator while it runs, and live
// captions over the stage (the latest partial or final line of whoever spoke), which each
// person switches on or off for themselves (remembered in this browser).
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { useTranslation } from 'react-i18next';
import { useObservable } from '../store';
import type { TranscriptStore } from '../transcript';
import type { Participant, TranscriptLine } from '../types';
import { Icon } from './Icon';
import { IconButton } from './ui';

const BANNER_MS = 8_000;
const CAPTION_MS = 6_000; // a caption stays this long after its last change
const CAPTIONS_SHOWN = 2;
const CAPTIONS_KEY = 'moot.captions';

// -- the per-user captions switch -----------------------------------------------------------

const captionListeners = new Set<() => void>();

function captionsOn(): boolean {
  try {
    return localStorage.getItem(CAPTIONS_KEY) !== 'off';
  } catch {
    return true;
  }
}

function setCaptions(on: boolean) {
  try {
    localStorage.setItem(CAPTIONS_KEY, on ? 'on' : 'off');
  } catch {
    /* private mode: the choice lasts for this page */
  }
  for (const listener of captionListeners) listener();
}

function useCaptionsSwitch(): boolean {
  return useSyncExternalStore((listener) => {
    captionListeners.add(listener);
    return () => captionListeners.delete(listener);
  }, captionsOn);
}

// -- the overlay ----------------------------------------------------------------------------

export function TranscriptionOverlay({
  transcript,
  participants,
}: {
  transcript: TranscriptStore;
  participants: Participant[];
}) {
  const { transcription, lines } = useObservable(transcript);
  const active = transcription?.status === 'active';
  const captions = useCaptionsSwitch();
  const names = new Map(participants.map((p) => [p.participant_id, p.display_name]));
  return (
    <>
      <TranscriptionBanner active={active} loaded={transcription !== null} />
      {active ? <TranscriptionIndicator captions={captions} /> : null}
      {captions ? <Captions lines={lines} names={names} /> : null}
    </>
  );
}

function TranscriptionBanner({ active, loaded }: { active: boolean; loaded: boolean }) {
  const { t } = useTranslation();
  const [shown, setShown] = useState<'started' | 'stopped' | null>(null);
  // Seen before: null until the state is known, so joining a running transcription counts as
  // its start (a newcomer is told too) and joining an idle meeting says nothing.
  const previous = useRef<boolean | null>(null);
  useEffect(() => {
    if (!loaded) return;
    const before = previous.current;
    previous.current = active;
    if (before === active || (before === null && !active)) return;
    setShown(active ? 'started' : 'stopped');
    const timer = window.setTimeout(() => setShown(null), BANNER_MS);
    return () => clearTimeout(timer);
  }, [active, loaded]);
  if (!shown) return null;
  return (
    <div
      className={`transcription-banner ${shown}`}
      role="status"
      aria-live="assertive"
      data-testid="transcription-banner"
      data-state={shown}
    >
      <Icon name="transcript" size={18} />
      <span>{shown === 'started' ? t('transcript.startedBanner') : t('transcript.stoppedBanner')}</span>
      <button type="button" className="button text small" onClick={() => setShown(null)}>
        {t('common.close')}
      </button>
    </div>
  );
}

function TranscriptionIndicator({ captions }: { captions: boolean }) {
  const { t } = useTranslation();
  return (
    <div className="transcription-indicator" data-testid="transcription-indicator">
      <span className="live-pill">
        <span className="live-dot" /> {t('transcript.indicator')}
      </span>
      <IconButton
        icon="transcript"
        label={captions ? t('transcript.hideCaptions') : t('transcript.showCaptions')}
        pressed={captions}
        variant={captions ? 'active' : 'plain'}
        onClick={() => setCaptions(!captions)}
        className="small"
        testId="captions-toggle"
      />
    </div>
  );
}

/** The latest lines as they are spoken (a partial is replaced by its next partial, then its
 * final); a line leaves a few seconds after it last changed. */
function Captions({ lines, names }: { lines: TranscriptLine[]; names: Map<string, string> }) {
  const [now, setNow] = useState(() => Date.now());
  const recent = lines
    .filter((line) => line.heardAt !== undefined && now - line.heardAt < CAPTION_MS)
    .sort((a, b) => (a.heardAt ?? 0) - (b.heardAt ?? 0))
    .slice(-CAPTIONS_SHOWN);
  const showing = recent.length > 0;
  const newest = recent.at(-1)?.heardAt ?? 0;
  useEffect(() => {
    // Tick while something is shown, so lines expire.
    if (!showing) return;
    const timer = window.setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [showing, newest]);
  if (!showing) return null;
  return (
    <div className="captions" aria-live="off" data-testid="captions">
      {recent.map((line) => (
        <p key={line.utterance_id} className={line.final ? 'final' : 'partial'} data-testid="caption">
          {speakerName(line, names) ? <b>{speakerName(line, names)}</b> : null}
          <span>{line.text}</span>
        </p>
      ))}
    </div>
  );
}

function speakerName(line: TranscriptLine, names: Map<string, string>): string {
  return (line.participant_id && names.get(line.participant_id)) || line.display_name || '';
}
