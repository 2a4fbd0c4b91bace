// The meeting: a video grid that fits the window, the control bar, and the side panels
// (people, chat, transcript).
import { type CSSProperties, type ReactNode, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ChatPanel } from '../components/ChatPanel';
import { Icon } from '../components/Icon';
import { PeoplePanel } from '../components/PeoplePanel';
import { TranscriptionOverlay } from '../components/TranscriptionOverlay';
import { TranscriptPanel } from '../components/TranscriptPanel';
import { ConfirmDialog, copyText, IconButton, LanguageSwitch, Menu, MenuItem, shortcut } from '../components/ui';
import { RemoteAudio, VideoTile } from '../components/VideoTile';
import { timeOfDay } from '../i18n';
import type { LocalMedia } from '../media/localMedia';
import { SpeakingDetector } from '../media/levels';
import type { Meeting } from '../meeting';
import { roomLink } from '../router';
import { useObservable } from '../store';
import { useMediaShortcuts } from './shortcuts';

type Panel = 'people' | 'chat' | 'transcript' | null;

interface TileSpec {
  key: string;
  id: string;
  name: string;
  track: MediaStreamTrack | null;
  mic: boolean;
  cam: boolean;
  isYou: boolean;
  isHost: boolean;
  kind: 'camera' | 'screen';
  connecting: boolean;
}

/** The biggest 16:9 tiles that fit `count` of them in the box. */
function useGrid(count: number): [React.RefObject<HTMLDivElement | null>, { width: number; height: number }] {
  const ref = useRef<HTMLDivElement>(null);
  const [box, setBox] = useState({ width: 0, height: 0 });
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) =>
      setBox({ width: entry.contentRect.width, height: entry.contentRect.height }),
    );
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const gap = 12;
  let best = { width: 0, height: 0 };
  for (let cols = 1; cols <= Math.max(1, count); cols++) {
    const rows = Math.ceil(count / cols);
    let width = (box.width - gap * (cols - 1)) / cols;
    let height = (width * 9) / 16;
    if (height * rows + gap * (rows - 1) > box.height) {
      height = (box.height - gap * (rows - 1)) / rows;
      width = (height * 16) / 9;
    }
    if (width * height > best.width * best.height) best = { width: Math.floor(width), height: Math.floor(height) };
  }
  return [ref, best];
}

function Clock() {
  const { i18n } = useTranslation();
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(new Date()), 10_000);
    return () => clearInterval(timer);
  }, []);
  return <span>{timeOfDay(now, i18n.language)}</span>;
}

export function MeetingView({ meeting, local }: { meeting: Meeting; local: LocalMedia }) {
  const { t } = useTranslation();
  const state = useObservable(meeting);
  const { unread } = useObservable(meeting.chat);
  const { transcription } = useObservable(meeting.transcript);
  const { remotes, mode: mediaMode } = useObservable(meeting.media);
  const { items: notices } = useObservable(meeting.notices);
  const media = useObservable(local);
  const detector = useMemo(() => new SpeakingDetector(), []);
  const levels = useObservable(detector);
  const [panel, setPanel] = useState<Panel>(null);
  const [confirmEnd, setConfirmEnd] = useState(false);
  useMediaShortcuts(local);

  const you = state.you.participant_id;
  useEffect(() => detector.watch(you, media.audio), [detector, you, media.audio]);
  useEffect(() => {
    for (const participant of state.participants)
      if (participant.participant_id !== you)
        detector.watch(participant.participant_id, remotes.get(participant.participant_id)?.audio ?? null);
  }, [detector, remotes, state.participants, you]);
  useEffect(() => () => detector.close(), [detector]);

  const tiles: TileSpec[] = [];
  const screens: TileSpec[] = [];
  for (const person of state.participants) {
    const isYou = person.participant_id === you;
    const remote = remotes.get(person.participant_id);
    const base = { id: person.participant_id, name: person.display_name, isYou, isHost: person.role === 'host' };
    tiles.push({
      ...base,
      key: `${person.participant_id}:camera`,
      kind: 'camera',
      track: isYou ? media.video : (remote?.video ?? null),
      mic: isYou ? media.mic && !!media.audio : (remote?.mic ?? false),
      cam: isYou ? media.cam && !!media.video : (remote?.cam ?? false),
      connecting: !isYou && mediaMode === 'mesh' && remote?.connection !== 'connected',
    });
    const screen = isYou ? media.screen : remote?.screen;
    if (screen)
      screens.push({
        ...base,
        key: `${person.participant_id}:screen`,
        kind: 'screen',
        track: screen,
        mic: true,
        cam: true,
        connecting: false,
      });
  }
  // Others first, in the order they came; you last (as in most meeting apps).
  tiles.sort((a, b) => Number(a.isYou) - Number(b.isYou));
  const presenting = screens.length > 0;
  const [gridRef, size] = useGrid(presenting ? 1 : tiles.length);

  const tile = (spec: TileSpec, style?: CSSProperties) => (
    <VideoTile
      key={spec.key}
      id={spec.id}
      name={spec.name}
      track={spec.track}
      mic={spec.mic}
      cam={spec.cam}
      kind={spec.kind}
      isYou={spec.isYou}
      isHost={spec.isHost}
      mirrored={spec.isYou && spec.kind === 'camera'}
      speaking={levels.active === spec.id && state.participants.length > 1}
      connecting={spec.connecting}
      style={style}
    />
  );

  async function copyLink() {
    await copyText(roomLink(state.room.code));
    meeting.notices.notify('room.linkCopied');
  }

  const toggle = (name: Exclude<Panel, null>) => setPanel((current) => (current === name ? null : name));
  const panelTitle =
    panel === 'people' ? t('people.title') : panel === 'chat' ? t('chat.title') : t('transcript.title');
  const isHost = state.you.role === 'host';
  const transcriptLive = transcription?.status === 'active';

  let sidePanel: ReactNode = null;
  if (panel === 'people')
    sidePanel = <PeoplePanel meeting={meeting} speaking={levels.speaking} localMic={media.mic && !!media.audio} />;
  else if (panel === 'chat') sidePanel = <ChatPanel chat={meeting.chat} you={you} moderator={isHost} />;
  else if (panel === 'transcript')
    sidePanel = <TranscriptPanel transcript={meeting.transcript} you={state.you} participants={state.participants} />;

  return (
    <div className="page meeting" data-testid="meeting">
      {state.status === 'reconnecting' ? (
        <div className="banner" role="status" data-testid="reconnecting">
          <Icon name="wifiOff" size={18} /> {t('room.reconnecting')}
        </div>
      ) : null}
      <div className="meeting-body">
        <main className={`stage ${presenting ? 'presenting' : ''}`} aria-label={state.room.title || state.room.code}>
          <div className="grid" ref={gridRef}>
            {presenting
              ? tile(screens[0], { width: size.width, height: size.height })
              : tiles.map((spec) => tile(spec, { width: size.width, height: size.height }))}
          </div>
          {presenting ? <div className="filmstrip">{tiles.map((spec) => tile(spec))}</div> : null}
          <TranscriptionOverlay transcript={meeting.transcript} participants={state.participants} />
          {tiles.length === 1 && !presenting ? (
            <div className="alone">
              <span>{t('room.alone')}</span>
              <button type="button" className="button secondary small" onClick={() => void copyLink()}>
                <Icon name="copy" size={18} />
                {t('room.copyLink')}
              </button>
            </div>
          ) : null}
        </main>
        {panel ? (
          <aside className="side-panel" aria-label={panelTitle} data-testid={`panel-${panel}`}>
            <header className="panel-header">
              <h2>{panelTitle}</h2>
              <IconButton icon="close" label={t('common.close')} onClick={() => setPanel(null)} className="small" />
            </header>
            {sidePanel}
          </aside>
        ) : null}
      </div>
      <footer className="control-bar">
        <div className="bar-left">
          <Clock />
          <span className="bar-sep" aria-hidden="true" />
          <span className="bar-title" title={state.room.code}>
            {state.room.title || state.room.code}
          </span>
          {state.room.locked ? (
            <span className="chip" data-testid="locked">
              <Icon name="lock" size={14} /> {t('host.lockedBadge')}
            </span>
          ) : null}
        </div>
        <div className="bar-center" role="toolbar" aria-label={t('room.controls')}>
          <IconButton
            icon={media.mic && media.audio ? 'mic' : 'micOff'}
            label={media.mic ? t('room.micOn') : t('room.micOff')}
            hint={shortcut('D')}
            variant={media.mic && media.audio ? 'control' : 'off'}
            pressed={!media.mic}
            disabled={!media.audio}
            onClick={() => local.setMic(!media.mic)}
            testId="toggle-mic"
          />
          <IconButton
            icon={media.cam && media.video ? 'cam' : 'camOff'}
            label={media.cam ? t('room.camOn') : t('room.camOff')}
            hint={shortcut('E')}
            variant={media.cam && media.video ? 'control' : 'off'}
            pressed={!media.cam}
            onClick={() => void local.setCam(!media.cam)}
            testId="toggle-cam"
          />
          {'getDisplayMedia' in (navigator.mediaDevices ?? {}) ? (
            <IconButton
              icon={media.screen ? 'stopPresent' : 'present'}
              label={media.screen ? t('room.stopShare') : t('room.share')}
              variant={media.screen ? 'active' : 'control'}
              pressed={!!media.screen}
              onClick={() => (media.screen ? local.stopScreen() : void local.startScreen())}
            />
          ) : null}
          {isHost ? (
            <Menu
              label={t('host.menu')}
              align="start"
              placement="above"
              trigger={({ toggle: open, open: isOpen }) => (
                <IconButton
                  icon="more"
                  label={t('host.menu')}
                  variant="control"
                  pressed={isOpen}
                  onClick={open}
                  testId="host-menu"
                />
              )}
            >
              {(close) => (
                <>
                  <MenuItem
                    icon={state.room.locked ? 'lockOpen' : 'lock'}
                    onSelect={() => {
                      close();
                      void meeting.setLocked(!state.room.locked);
                    }}
                  >
                    {state.room.locked ? t('host.unlock') : t('host.lock')}
                  </MenuItem>
                  <MenuItem
                    icon="callEnd"
                    danger
                    onSelect={() => {
                      close();
                      setConfirmEnd(true);
                    }}
                  >
                    {t('host.end')}
                  </MenuItem>
                </>
              )}
            </Menu>
          ) : null}
          <IconButton
            icon="callEnd"
            label={t('room.leave')}
            variant="danger"
            className="leave"
            onClick={() => void meeting.leave()}
            testId="leave"
          />
        </div>
        <div className="bar-right">
          <IconButton icon="link" label={t('room.copyLink')} onClick={() => void copyLink()} testId="copy-link" />
          <Menu
            label={t('room.devices')}
            placement="above"
            trigger={({ toggle: open, open: isOpen }) => (
              <IconButton icon="settings" label={t('room.devices')} pressed={isOpen} onClick={open} testId="devices" />
            )}
          >
            {(close) => (
              <>
                <p className="menu-heading">{t('prejoin.microphone')}</p>
                {media.audioDevices.map((device, index) => (
                  <MenuItem
                    key={device.deviceId}
                    checked={device.deviceId === media.audioDeviceId}
                    onSelect={() => (close(), void local.selectDevice('audio', device.deviceId))}
                  >
                    {device.label || `${t('prejoin.microphone')} ${index + 1}`}
                  </MenuItem>
                ))}
                <p className="menu-heading">{t('prejoin.camera')}</p>
                {media.videoDevices.map((device, index) => (
                  <MenuItem
                    key={device.deviceId}
                    checked={device.deviceId === media.videoDeviceId}
                    onSelect={() => (close(), void local.selectDevice('video', device.deviceId))}
                  >
                    {device.label || `${t('prejoin.camera')} ${index + 1}`}
                  </MenuItem>
                ))}
              </>
            )}
          </Menu>
          <IconButton
            icon="people"
            label={t('room.people')}
            pressed={panel === 'people'}
            variant={panel === 'people' ? 'active' : 'plain'}
            onClick={() => toggle('people')}
            badge={state.participants.length}
            className="count"
            testId="toggle-people"
          />
          <IconButton
            icon="chat"
            label={unread ? `${t('room.chat')} — ${t('chat.unread', { count: unread })}` : t('room.chat')}
            pressed={panel === 'chat'}
            variant={panel === 'chat' ? 'active' : 'plain'}
            onClick={() => toggle('chat')}
            badge={unread}
            testId="toggle-chat"
          />
          <IconButton
            icon="transcript"
            label={t('room.transcript')}
            pressed={panel === 'transcript'}
            variant={panel === 'transcript' ? 'active' : 'plain'}
            onClick={() => toggle('transcript')}
            className={transcriptLive ? 'live' : ''}
            testId="toggle-transcript"
          />
          <LanguageSwitch compact />
        </div>
      </footer>
      <div className="toasts" role="status" aria-live="polite">
        {notices.map((notice) => (
          <div key={notice.id} className={`toast ${notice.tone}`}>
            {t(notice.key, notice.params)}
          </div>
        ))}
      </div>
      {state.participants
        .filter((p) => p.participant_id !== you)
        .map((p) => (
          <RemoteAudio key={p.participant_id} track={remotes.get(p.participant_id)?.audio ?? null} />
        ))}
      {confirmEnd ? (
        <ConfirmDialog
          text={t('host.endConfirm')}
          confirm={t('host.end')}
          onCancel={() => setConfirmEnd(false)}
          onConfirm={() => {
            setConfirmEnd(false);
            void meeting.endMeeting();
          }}
        />
      ) : null}
    </div>
  );
}
