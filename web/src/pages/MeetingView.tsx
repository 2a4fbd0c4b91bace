// The meeting: a video grid that fits the window, the control bar, and the side panels
// (people, chat, transcript). Up to 900 px wide the room's name and its link move to a strip
// at the top; up to 640 px (phones) the bar keeps the essential buttons and a "more" menu,
// your own video is a small overlay, and panels are full-screen sheets.
import {
  type CSSProperties,
  type ReactNode,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from 'react';
import { useTranslation } from 'react-i18next';
import { ChatPanel } from '../components/ChatPanel';
import { ConnectionBanner } from '../components/ConnectionBanner';
import { Icon } from '../components/Icon';
import { MediaBanner } from '../components/MediaBanner';
import { PeoplePanel } from '../components/PeoplePanel';
import { ShortcutsDialog } from '../components/ShortcutsDialog';
import { TranscriptionOverlay } from '../components/TranscriptionOverlay';
import { TranscriptPanel } from '../components/TranscriptPanel';
import { ConfirmDialog, copyText, IconButton, LanguageSwitch, Menu, MenuItem, shortcut } from '../components/ui';
import { RemoteAudio, VideoTile } from '../components/VideoTile';
import { LANGUAGES, type Language, setLanguage, timeOfDay } from '../i18n';
import type { LocalMedia, LocalState } from '../media/localMedia';
import { SpeakingDetector } from '../media/levels';
import type { RemoteConnection } from '../media/session';
import type { Meeting } from '../meeting';
import { roomLink } from '../router';
import { useObservable } from '../store';
import { useMediaShortcuts, useShortcutsKey } from './shortcuts';

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
  link: RemoteConnection;
}

/** Whether a CSS media query matches, following changes (rotating a phone, resizing). */
function useMediaQuery(query: string) {
  return useSyncExternalStore(
    (onChange) => {
      const list = window.matchMedia(query);
      list.addEventListener('change', onChange);
      return () => list.removeEventListener('change', onChange);
    },
    () => window.matchMedia(query).matches,
  );
}

/** Why the microphone or camera button cannot just toggle: the device is missing (blocked,
 * absent or failed), so a click asks for it again. null when it can toggle. */
function blockedReason(media: LocalState, kind: 'audio' | 'video') {
  if (media.starting) return null;
  if (kind === 'audio' ? media.audio : media.video || !media.cam) return null;
  return media.problem ?? (kind === 'audio' ? 'error' : null);
}

/** The biggest tiles of the given shape (16:9, or 3:4 on phones) that fit `count` of them. */
function useGrid(
  count: number,
  aspect: number,
): [React.RefObject<HTMLDivElement | null>, { width: number; height: number }] {
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
    let height = width / aspect;
    if (height * rows + gap * (rows - 1) > box.height) {
      height = (box.height - gap * (rows - 1)) / rows;
      width = height * aspect;
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
  const { t, i18n } = useTranslation();
  const state = useObservable(meeting);
  const { unread } = useObservable(meeting.chat);
  const { transcription } = useObservable(meeting.transcript);
  const mediaState = useObservable(meeting.media);
  const { remotes, mode: mediaMode } = mediaState;
  const { items: notices } = useObservable(meeting.notices);
  const media = useObservable(local);
  const detector = useMemo(() => new SpeakingDetector(), []);
  const levels = useObservable(detector);
  const [panel, setPanel] = useState<Panel>(null);
  const [confirmEnd, setConfirmEnd] = useState(false);
  const [showShortcuts, setShowShortcuts] = useState(false);
  const compact = useMediaQuery('(max-width: 900px)');
  const phone = useMediaQuery('(max-width: 640px)');
  // The control that opened the panel gets focus back when it closes.
  const opener = useRef<HTMLElement | null>(null);
  const panelRef = useRef<HTMLElement>(null);
  useMediaShortcuts(local);
  useShortcutsKey(useCallback(() => setShowShortcuts(true), []));
  const closeShortcuts = useCallback(() => setShowShortcuts(false), []);

  const you = state.you.participant_id;
  useEffect(() => detector.watch(you, media.audio), [detector, you, media.audio]);
  useEffect(() => {
    for (const participant of state.participants)
      if (participant.participant_id !== you)
        detector.watch(participant.participant_id, remotes.get(participant.participant_id)?.audio ?? null);
  }, [detector, remotes, state.participants, you]);
  useEffect(() => () => detector.close(), [detector]);

  const closePanel = useCallback(() => {
    setPanel(null);
    const back = opener.current;
    opener.current = null;
    (back?.isConnected ? back : document.querySelector<HTMLElement>('[data-testid=more]'))?.focus();
  }, []);
  const openPanel = (name: Exclude<Panel, null>) => {
    if (!panel) opener.current = document.activeElement as HTMLElement | null;
    setPanel(name);
  };
  const toggle = (name: Exclude<Panel, null>) => (panel === name ? closePanel() : openPanel(name));
  // Opening chat puts the cursor in the message box; another panel gets focus itself, so a
  // screen reader says which one opened.
  useEffect(() => {
    if (!panel) return;
    const box = panelRef.current;
    (box?.querySelector<HTMLElement>(panel === 'chat' ? '[data-testid=chat-input]' : 'h2') ?? box)?.focus();
  }, [panel]);
  useEffect(() => {
    if (!panel) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape' || event.defaultPrevented) return;
      // Escape in a message being edited cancels the edit, not the panel.
      if ((event.target as Element | null)?.closest?.('.message-edit')) return;
      closePanel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [panel, closePanel]);

  const tiles: TileSpec[] = [];
  const screens: TileSpec[] = [];
  for (const person of state.participants) {
    const isYou = person.participant_id === you;
    const remote = remotes.get(person.participant_id);
    const base = { id: person.participant_id, name: person.display_name, isYou, isHost: person.role === 'host' };
    let link: RemoteConnection = 'connected';
    if (!isYou) {
      if (mediaState.failure) link = 'failed';
      else if (mediaMode === 'livekit') link = remote?.connection ?? 'connected';
      else link = remote?.connection ?? 'connecting';
    }
    tiles.push({
      ...base,
      key: `${person.participant_id}:camera`,
      kind: 'camera',
      track: isYou ? media.video : (remote?.video ?? null),
      mic: isYou ? media.mic && !!media.audio : (remote?.mic ?? false),
      cam: isYou ? media.cam && !!media.video : (remote?.cam ?? false),
      link,
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
        link: 'connected',
      });
  }
  // Others first, in the order they came; you last (as in most meeting apps).
  tiles.sort((a, b) => Number(a.isYou) - Number(b.isYou));
  const presenting = screens.length > 0;
  // On a phone your own video is a small overlay once someone else is there.
  const selfOverlay = phone && (tiles.length > 1 || presenting);
  const gridTiles = selfOverlay ? tiles.filter((spec) => !spec.isYou) : tiles;
  const selfTile = tiles.find((spec) => spec.isYou);
  const [gridRef, size] = useGrid(presenting ? 1 : gridTiles.length, phone ? 3 / 4 : 16 / 9);

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
      connecting={spec.link === 'connecting'}
      restarting={spec.link === 'restarting'}
      failed={spec.link === 'failed'}
      onRetry={() => void meeting.media.retry(spec.id)}
      reconnecting={!spec.isYou && state.reconnecting.includes(spec.id)}
      style={style}
    />
  );

  async function copyLink() {
    await copyText(roomLink(state.room.code));
    meeting.notices.notify('room.linkCopied');
  }

  /** The microphone or camera button: a toggle, or — when the device is missing — a retry
   * that says why it is missing and how to fix it. */
  function deviceButton(kind: 'audio' | 'video') {
    const audio = kind === 'audio';
    const on = audio ? media.mic && !!media.audio : media.cam && !!media.video;
    const blocked = blockedReason(media, kind);
    if (blocked) {
      const key = `room.${audio ? 'mic' : 'cam'}Blocked_${blocked}`;
      const why = t(key);
      return (
        <IconButton
          icon={audio ? 'micOff' : 'camOff'}
          label={why}
          variant="off"
          className="blocked"
          onClick={() =>
            void local.requestAccess(kind).then((ok) => ok || meeting.notices.notify(key, undefined, 'error'))
          }
          testId={audio ? 'toggle-mic' : 'toggle-cam'}
        />
      );
    }
    return audio ? (
      <IconButton
        icon={on ? 'mic' : 'micOff'}
        label={media.mic ? t('room.micOn') : t('room.micOff')}
        hint={shortcut('D')}
        variant={on ? 'control' : 'off'}
        pressed={!media.mic}
        disabled={!media.audio}
        onClick={() => local.setMic(!media.mic)}
        testId="toggle-mic"
      />
    ) : (
      <IconButton
        icon={on ? 'cam' : 'camOff'}
        label={media.cam ? t('room.camOn') : t('room.camOff')}
        hint={shortcut('E')}
        variant={on ? 'control' : 'off'}
        pressed={!media.cam}
        onClick={() => void local.setCam(!media.cam)}
        testId="toggle-cam"
      />
    );
  }

  const panelTitle =
    panel === 'people' ? t('people.title') : panel === 'chat' ? t('chat.title') : t('transcript.title');
  const isHost = state.you.role === 'host';
  const transcriptLive = transcription?.status === 'active';
  const title = state.room.title || state.room.code;
  const canShare = 'getDisplayMedia' in (navigator.mediaDevices ?? {});

  let sidePanel: ReactNode = null;
  if (panel === 'people')
    sidePanel = <PeoplePanel meeting={meeting} speaking={levels.speaking} localMic={media.mic && !!media.audio} />;
  else if (panel === 'chat') sidePanel = <ChatPanel chat={meeting.chat} you={you} moderator={isHost} />;
  else if (panel === 'transcript')
    sidePanel = <TranscriptPanel transcript={meeting.transcript} you={state.you} participants={state.participants} />;

  const hostItems = (close: () => void) => (
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
  );

  const deviceItems = (close: () => void) => (
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
  );

  const shareItem = (close: () => void) =>
    canShare ? (
      <MenuItem
        icon={media.screen ? 'stopPresent' : 'present'}
        onSelect={() => {
          close();
          if (media.screen) local.stopScreen();
          else void local.startScreen();
        }}
      >
        {media.screen ? t('room.stopShare') : t('room.share')}
      </MenuItem>
    ) : null;

  const peopleButton = (
    <IconButton
      icon="people"
      label={t('room.peopleCount', { count: state.participants.length })}
      pressed={panel === 'people'}
      variant={panel === 'people' ? 'active' : 'plain'}
      onClick={() => toggle('people')}
      badge={state.participants.length}
      className="count"
      testId="toggle-people"
    />
  );
  const chatButton = (
    <IconButton
      icon="chat"
      label={unread ? `${t('room.chat')} — ${t('chat.unread', { count: unread })}` : t('room.chat')}
      pressed={panel === 'chat'}
      variant={panel === 'chat' ? 'active' : 'plain'}
      onClick={() => toggle('chat')}
      badge={unread}
      testId="toggle-chat"
    />
  );
  const leaveButton = (
    <IconButton
      icon="callEnd"
      label={t('room.leave')}
      variant="danger"
      className="leave"
      onClick={() => void meeting.leave()}
      testId="leave"
    />
  );
  const copyLinkButton = (
    <IconButton icon="link" label={t('room.copyLink')} onClick={() => void copyLink()} testId="copy-link" />
  );

  return (
    <div className={`page meeting ${phone ? 'phone' : ''}`} data-testid="meeting">
      <ConnectionBanner status={state.status} />
      {compact ? (
        <header className="meeting-top">
          <div className="meeting-top-title">
            <h1 title={state.room.code}>{title}</h1>
            {state.room.title ? <span className="meeting-top-code">{state.room.code}</span> : null}
          </div>
          {state.room.locked ? (
            <span className="chip" data-testid="locked">
              <Icon name="lock" size={14} /> {t('host.lockedBadge')}
            </span>
          ) : null}
          {copyLinkButton}
        </header>
      ) : null}
      <MediaBanner media={mediaState} participants={state.participants} onRetry={() => void meeting.media.retry()} />
      <div className="meeting-body">
        <main className={`stage ${presenting ? 'presenting' : ''}`} aria-label={title}>
          <div className="grid" ref={gridRef}>
            {presenting
              ? tile(screens[0], { width: size.width, height: size.height })
              : gridTiles.map((spec) => tile(spec, { width: size.width, height: size.height }))}
          </div>
          {presenting && !phone ? <div className="filmstrip">{tiles.map((spec) => tile(spec))}</div> : null}
          {selfOverlay && selfTile ? <div className="self-view">{tile(selfTile)}</div> : null}
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
          <aside
            className="side-panel"
            aria-label={panelTitle}
            data-testid={`panel-${panel}`}
            ref={panelRef}
            tabIndex={-1}
          >
            <header className="panel-header">
              <h2 tabIndex={-1}>{panelTitle}</h2>
              <IconButton icon="close" label={t('common.close')} onClick={closePanel} className="small" />
            </header>
            {sidePanel}
          </aside>
        ) : null}
      </div>
      <footer className="control-bar">
        {compact ? null : (
          <div className="bar-left">
            <Clock />
            <span className="bar-sep" aria-hidden="true" />
            <h1 className="bar-title" title={state.room.code}>
              {title}
            </h1>
            {state.room.locked ? (
              <span className="chip" data-testid="locked">
                <Icon name="lock" size={14} /> {t('host.lockedBadge')}
              </span>
            ) : null}
          </div>
        )}
        <div className="bar-center" role="toolbar" aria-label={t('room.controls')}>
          {deviceButton('audio')}
          {deviceButton('video')}
          {phone ? (
            <>
              {chatButton}
              {peopleButton}
              <Menu
                label={t('room.moreOptions')}
                placement="above"
                trigger={({ toggle: open, open: isOpen }) => (
                  <IconButton
                    icon="more"
                    label={t('room.moreOptions')}
                    variant="control"
                    pressed={isOpen}
                    onClick={open}
                    testId="more"
                  />
                )}
              >
                {(close) => (
                  <>
                    {shareItem(close)}
                    <MenuItem
                      icon="transcript"
                      onSelect={() => {
                        close();
                        openPanel('transcript');
                      }}
                    >
                      {transcriptLive ? `${t('room.transcript')} · ${t('transcript.live')}` : t('room.transcript')}
                    </MenuItem>
                    {isHost ? hostItems(close) : null}
                    {deviceItems(close)}
                    <p className="menu-heading">{t('common.language')}</p>
                    {Object.entries(LANGUAGES).map(([code, name]) => (
                      <MenuItem
                        key={code}
                        checked={(i18n.resolvedLanguage ?? i18n.language) === code}
                        onSelect={() => (close(), setLanguage(code as Language))}
                      >
                        {name}
                      </MenuItem>
                    ))}
                  </>
                )}
              </Menu>
            </>
          ) : (
            <>
              {canShare ? (
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
                  {hostItems}
                </Menu>
              ) : null}
            </>
          )}
          {leaveButton}
        </div>
        {phone ? null : (
          <div className="bar-right">
            {compact ? null : copyLinkButton}
            <Menu
              label={t('room.settings')}
              placement="above"
              trigger={({ toggle: open, open: isOpen }) => (
                <IconButton
                  icon="settings"
                  label={t('room.settings')}
                  pressed={isOpen}
                  onClick={open}
                  testId="devices"
                />
              )}
            >
              {(close) => (
                <>
                  {deviceItems(close)}
                  <div className="menu-separator" role="separator" />
                  <MenuItem
                    icon="keyboard"
                    onSelect={() => {
                      close();
                      setShowShortcuts(true);
                    }}
                  >
                    {t('room.shortcuts')} (?)
                  </MenuItem>
                </>
              )}
            </Menu>
            {peopleButton}
            {chatButton}
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
        )}
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
      {showShortcuts ? <ShortcutsDialog onClose={closeShortcuts} /> : null}
    </div>
  );
}
