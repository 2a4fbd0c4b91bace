// One person (or one shared screen) in the grid: their video, or their initial when the camera
// is off; name, microphone state, and a ring while they speak. When their media cannot connect,
// the tile says so and offers a retry (the banner above the grid says what may be the cause).
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Icon } from './Icon';
import { Avatar } from './ui';

export function useTrackElement<E extends HTMLMediaElement>(track: MediaStreamTrack | null) {
  const ref = useRef<E>(null);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    element.srcObject = track ? new MediaStream([track]) : null;
    if (track) void element.play().catch(() => undefined);
  }, [track]);
  return ref;
}

export function VideoTile({
  id,
  name,
  track,
  mic,
  cam,
  speaking,
  mirrored,
  isYou,
  isHost,
  kind = 'camera',
  connecting,
  restarting,
  failed,
  onRetry,
  reconnecting,
  style,
}: {
  id: string;
  name: string;
  track: MediaStreamTrack | null;
  mic: boolean;
  cam: boolean;
  speaking: boolean;
  mirrored?: boolean;
  isYou?: boolean;
  isHost?: boolean;
  kind?: 'camera' | 'screen';
  connecting?: boolean;
  /** Their connection dropped or never came up and is restarting on its own. */
  restarting?: boolean;
  /** It could not connect: only a retry can help. */
  failed?: boolean;
  onRetry?: () => void;
  /** Their connection to the server dropped (a reload, a lost network): they keep the seat. */
  reconnecting?: boolean;
  style?: React.CSSProperties;
}) {
  const { t } = useTranslation();
  const video = useTrackElement<HTMLVideoElement>(track);
  const [playing, setPlaying] = useState(false);
  useEffect(() => {
    const element = video.current;
    if (!element) return;
    const update = () => setPlaying(element.videoWidth > 0);
    update();
    element.addEventListener('resize', update);
    element.addEventListener('loadeddata', update);
    element.addEventListener('emptied', update);
    return () => {
      element.removeEventListener('resize', update);
      element.removeEventListener('loadeddata', update);
      element.removeEventListener('emptied', update);
    };
  }, [video, track]);
  const showVideo = !!track && (kind === 'screen' || cam) && playing && !failed;
  const label =
    kind === 'screen'
      ? isYou
        ? t('room.youPresenting')
        : t('room.presenting', { name })
      : isYou
        ? `${name} (${t('common.you')})`
        : name;
  return (
    <figure
      className={`tile ${kind} ${speaking && kind === 'camera' ? 'speaking' : ''}`}
      data-testid="tile"
      data-participant-id={id}
      data-kind={kind}
      data-media={failed ? 'failed' : restarting ? 'restarting' : connecting ? 'connecting' : 'ok'}
      style={style}
      aria-label={label}
    >
      <video
        ref={video}
        autoPlay
        playsInline
        muted
        className={`${mirrored ? 'mirrored' : ''} ${showVideo ? '' : 'hidden'}`}
      />
      {showVideo ? null : (
        <div className="tile-placeholder">
          <Avatar name={name} id={id} size={88} />
          {failed ? (
            <div className="tile-failed" data-testid="tile-failed">
              <span className="tile-status error" role="status">
                <Icon name="warning" size={16} /> {t('room.mediaFailed')}
              </span>
              {onRetry ? (
                <button
                  type="button"
                  className="button secondary small"
                  onClick={onRetry}
                  aria-label={t('room.retryWith', { name })}
                  data-testid="tile-retry"
                >
                  {t('room.retry')}
                </button>
              ) : null}
            </div>
          ) : restarting ? (
            <span className="tile-status">{t('room.mediaRestarting')}</span>
          ) : connecting ? (
            <span className="tile-status">{t('room.waitingMedia')}</span>
          ) : null}
        </div>
      )}
      {showVideo && restarting ? <span className="tile-chip">{t('room.mediaRestarting')}</span> : null}
      {reconnecting ? (
        <span className="tile-reconnecting" role="status" data-testid="tile-reconnecting">
          {t('connection.tileReconnecting')}
        </span>
      ) : null}
      <figcaption className="tile-name">
        {kind === 'camera' && !mic ? (
          <span className="tile-muted" title={t('room.muted')} aria-label={t('room.muted')}>
            <Icon name="micOff" size={16} />
          </span>
        ) : null}
        {isHost && kind === 'camera' ? <Icon name="star" size={14} className="host-star" /> : null}
        <span>{label}</span>
      </figcaption>
      {kind === 'camera' && mic ? (
        <span className={`tile-level ${speaking ? 'on' : ''}`} aria-hidden="true">
          <i />
          <i />
          <i />
        </span>
      ) : null}
    </figure>
  );
}

export function RemoteAudio({ track }: { track: MediaStreamTrack | null }) {
  const audio = useTrackElement<HTMLAudioElement>(track);
  return <audio ref={audio} autoPlay />;
}
