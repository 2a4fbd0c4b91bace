// Before joining: your name, a camera preview with device pickers and on/off toggles, and a
// plain answer when the room cannot be joined (full, locked, ended, removed).
import { type FormEvent, useEffect, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ApiError } from '../api';
import { Header } from '../components/Header';
import { Icon } from '../components/Icon';
import { useTrackElement } from '../components/VideoTile';
import { copyText, IconButton, shortcut } from '../components/ui';
import type { LocalMedia } from '../media/localMedia';
import { errorCode } from '../notices';
import { roomLink } from '../router';
import { useObservable } from '../store';
import type { Room, RoomSession } from '../types';
import { useMediaShortcuts } from './shortcuts';
import { savedName, saveName } from './names';

export function PreJoin({
  room,
  created,
  local,
  onJoined,
  onFatal,
}: {
  room: Room;
  created: boolean;
  local: LocalMedia;
  onJoined: (session: RoomSession) => void;
  onFatal: (ending: 'removed_from_room' | 'room_ended' | 'room_not_found') => void;
}) {
  const { t } = useTranslation();
  const media = useObservable(local);
  const [name, setName] = useState(savedName);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const video = useTrackElement<HTMLVideoElement>(media.video);
  const micId = useId();
  const camId = useId();
  useMediaShortcuts(local);

  // Only on arrival (what the devices are then, not at each render): later changes are the user's.
  useEffect(() => {
    const { audio, video, starting, problem } = local.snapshot;
    if (!audio && !video && !starting && !problem) void local.start();
  }, [local]);

  async function join(event: FormEvent) {
    event.preventDefault();
    const displayName = name.trim();
    if (!displayName) return;
    setBusy(true);
    setError(null);
    saveName(displayName);
    try {
      onJoined(await api.join(room.code, displayName));
    } catch (failure) {
      setBusy(false);
      if (failure instanceof ApiError && ['removed_from_room', 'room_ended', 'room_not_found'].includes(failure.code)) {
        onFatal(failure.code as 'room_ended');
        return;
      }
      const { key, params } = errorCode(failure);
      setError(t(key, params));
    }
  }

  const problem =
    media.problem === 'denied'
      ? t('prejoin.denied')
      : media.problem === 'nodevice'
        ? t('prejoin.noDevices')
        : media.problem === 'error'
          ? t('prejoin.mediaError', { message: media.problemMessage })
          : null;

  return (
    <div className="page prejoin">
      <Header />
      <main className="prejoin-main">
        <section className="preview-column">
          <div className="preview" data-testid="preview">
            <video ref={video} autoPlay playsInline muted className={`mirrored ${media.video ? '' : 'hidden'}`} />
            {media.video ? null : (
              <div className="preview-off">
                {media.starting ? null : <span>{media.problem ? '' : t('prejoin.cameraOff')}</span>}
              </div>
            )}
            <div className="preview-controls">
              <IconButton
                icon={media.mic && media.audio ? 'mic' : 'micOff'}
                label={media.mic ? t('room.micOn') : t('room.micOff')}
                hint={shortcut('D')}
                variant={media.mic && media.audio ? 'control' : 'off'}
                pressed={!media.mic}
                disabled={!media.audio}
                onClick={() => local.setMic(!media.mic)}
              />
              <IconButton
                icon={media.cam && media.video ? 'cam' : 'camOff'}
                label={media.cam ? t('room.camOn') : t('room.camOff')}
                hint={shortcut('E')}
                variant={media.cam && media.video ? 'control' : 'off'}
                pressed={!media.cam}
                disabled={media.problem === 'denied'}
                onClick={() => void local.setCam(!media.cam)}
              />
            </div>
          </div>
          {problem ? (
            <div className="notice error" role="alert">
              <Icon name="warning" size={20} />
              <span>{problem}</span>
              {media.problem === 'denied' ? (
                <button type="button" className="button text" onClick={() => void local.start()}>
                  {t('common.tryAgain')}
                </button>
              ) : null}
            </div>
          ) : null}
          <div className="devices">
            <label htmlFor={micId}>
              <Icon name="mic" size={18} />
              <span className="sr-only">{t('prejoin.microphone')}</span>
              <select
                id={micId}
                value={media.audioDeviceId}
                disabled={!media.audioDevices.length}
                onChange={(event) => void local.selectDevice('audio', event.target.value)}
              >
                {media.audioDevices.length ? null : <option value="">{t('prejoin.microphone')}</option>}
                {media.audioDevices.map((device, index) => (
                  <option key={device.deviceId} value={device.deviceId}>
                    {device.label || `${t('prejoin.microphone')} ${index + 1}`}
                  </option>
                ))}
              </select>
            </label>
            <label htmlFor={camId}>
              <Icon name="cam" size={18} />
              <span className="sr-only">{t('prejoin.camera')}</span>
              <select
                id={camId}
                value={media.videoDeviceId}
                disabled={!media.videoDevices.length}
                onChange={(event) => void local.selectDevice('video', event.target.value)}
              >
                {media.videoDevices.length ? null : <option value="">{t('prejoin.noCamera')}</option>}
                {media.videoDevices.map((device, index) => (
                  <option key={device.deviceId} value={device.deviceId}>
                    {device.label || `${t('prejoin.camera')} ${index + 1}`}
                  </option>
                ))}
              </select>
            </label>
          </div>
        </section>
        <section className="join-column">
          <h1>{t('prejoin.ready')}</h1>
          <p className="room-title">
            {room.title ? <strong>{room.title}</strong> : null}
            <span className="room-code">{room.code}</span>
          </p>
          {created ? (
            <div className="share-box">
              <p className="muted">{t('prejoin.shareLink')}</p>
              <div className="share-link">
                <span data-testid="room-link">{roomLink(room.code)}</span>
                <button
                  type="button"
                  className="button text small"
                  onClick={() => void copyText(roomLink(room.code)).then(() => setCopied(true))}
                >
                  <Icon name={copied ? 'check' : 'copy'} size={18} />
                  {copied ? t('room.linkCopied') : t('room.copyLink')}
                </button>
              </div>
              <p className="muted" data-testid="capacity">
                {t(room.capacity_limited_by === 'mesh' ? 'prejoin.capacityMesh' : 'prejoin.capacity', {
                  count: room.capacity,
                })}
              </p>
            </div>
          ) : (
            <p className="muted">
              {room.participant_count ? t('prejoin.inRoom', { count: room.participant_count }) : t('prejoin.empty')}
            </p>
          )}
          {room.locked ? (
            <p className="notice" role="note">
              <Icon name="lock" size={18} /> {t('prejoin.lockedNote')}
            </p>
          ) : null}
          <form className="name-form" onSubmit={(event) => void join(event)}>
            <label htmlFor="display-name">{t('prejoin.nameLabel')}</label>
            <input
              id="display-name"
              className="input"
              placeholder={t('prejoin.namePlaceholder')}
              value={name}
              maxLength={200}
              autoFocus
              autoComplete="nickname"
              onChange={(event) => setName(event.target.value)}
            />
            <button type="submit" className="button primary large" disabled={busy || !name.trim()} data-testid="join">
              {busy ? t('prejoin.joining') : t('prejoin.join')}
            </button>
          </form>
          {error ? (
            <p className="form-error" role="alert" data-testid="join-error">
              <Icon name="warning" size={18} /> {error}
            </p>
          ) : null}
        </section>
      </main>
    </div>
  );
}
