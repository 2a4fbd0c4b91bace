// Why audio and video are not working, and what the user (or the server's operator) can do
// about it: shown above the grid when the media could not start or a connection failed after
// its automatic ICE restart. Separate from the room socket's outage banner.
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { MediaState } from '../media/mediaStore';
import type { Participant } from '../types';
import { Icon } from './Icon';

export function MediaBanner({
  media,
  participants,
  onRetry,
}: {
  media: MediaState;
  participants: Participant[];
  onRetry: () => void;
}) {
  const { t } = useTranslation();
  const failedIds = [...media.remotes.values()].filter((r) => r.connection === 'failed').map((r) => r.participantId);
  // What the banner is about; dismissing hides it until something else fails.
  const about = media.failure ? `${media.failure.stage}:${media.failure.code}` : failedIds.sort().join(',');
  const [dismissed, setDismissed] = useState<string | null>(null);
  if (!about || dismissed === about) return null;

  let title: string;
  let advice: string;
  if (media.failure?.stage === 'config') {
    title = t('media.startFailed');
    advice =
      media.failure.code === 'network_error' || media.failure.code === 'unreachable'
        ? t('media.configUnreachable')
        : t('media.configRefused', { code: media.failure.code });
  } else if (media.failure?.stage === 'livekit') {
    title = t('media.startFailed');
    advice = t('media.livekitUnreachable');
  } else {
    const names = participants.filter((p) => failedIds.includes(p.participant_id)).map((p) => p.display_name);
    title = t('media.peersFailed', { count: names.length, names: names.join(', ') });
    advice = media.relay ? t('media.relayBlocked') : t('media.noRelay');
  }
  return (
    <div className="media-banner" role="alert" data-testid="media-banner">
      <Icon name="warning" size={20} />
      <div className="media-banner-text">
        <strong>{title}</strong>
        <span>{advice}</span>
      </div>
      <div className="media-banner-actions">
        <button type="button" className="button primary small" onClick={onRetry} data-testid="media-retry">
          {t('room.retry')}
        </button>
        <button
          type="button"
          className="icon-button small"
          aria-label={t('common.close')}
          onClick={() => setDismissed(about)}
        >
          <Icon name="close" size={20} />
        </button>
      </div>
    </div>
  );
}
