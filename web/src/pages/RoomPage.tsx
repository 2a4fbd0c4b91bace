// `/r/<code>`: the pre-join screen, then the meeting, then how it ended — one page, so the
// camera preview carries straight into the call. Someone who already holds a seat in the room
// (a reload, a second tab, a tab that came back) goes straight back into the meeting with
// their seat, role and media, without the pre-join click.
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ApiError, getIdentity, hasIdentity } from '../api';
import { LocalMedia } from '../media/localMedia';
import { Meeting, type MeetingEnding } from '../meeting';
import { retryDelay } from '../roomSocket';
import type { Room, RoomSession } from '../types';
import { EndScreen } from './EndScreen';
import { MeetingView } from './MeetingView';
import { PreJoin } from './PreJoin';

type Stage =
  | { name: 'loading'; unreachable?: boolean }
  | { name: 'prejoin' }
  | { name: 'meeting'; meeting: Meeting }
  | { name: 'ended'; ending: MeetingEnding | 'removed_from_room' | 'room_ended' | 'room_not_found' };

declare global {
  interface Window {
    __moot?: { meeting: Meeting | null; readonly peers: Map<string, RTCPeerConnection> };
  }
}

/** The server could not be reached or was busy: worth asking again, not an answer. */
const transient = (error: unknown) =>
  !(error instanceof ApiError) || error.status === 0 || error.status === 503 || error.code === 'network_error';

/** Just created on the landing page: the pre-join comes first (the host's name, devices). */
const justCreated = () => !!(history.state as { created?: boolean } | null)?.created;

/** This browser's seat in the room, taken up again (the join is idempotent for a seat holder,
 * and brings the media access with it); null if it holds none. */
async function resumeSeat(code: string): Promise<RoomSession | null> {
  if (!hasIdentity()) return null; // a first visit holds no seat anywhere
  const identity = await getIdentity();
  let items;
  try {
    ({ items } = await api.participants(code));
  } catch (error) {
    if (transient(error)) throw error;
    return null; // not a participant (or removed, or ended): the pre-join says which
  }
  const you = items.find((p) => p.participant_id === identity.participant_id);
  return you ? api.join(code, you.display_name) : null;
}

export function RoomPage({ code }: { code: string }) {
  const { t } = useTranslation();
  const local = useMemo(() => new LocalMedia(), []);
  const [room, setRoom] = useState<Room | null>(null);
  const [stage, setStage] = useState<Stage>({ name: 'loading' });
  const [arrival, setArrival] = useState(0); // a rejoin from the end screen arrives again

  useEffect(() => {
    let cancelled = false;
    let timer = 0;
    const arrive = async (attempt: number) => {
      try {
        const [found, session] = await Promise.all([api.getRoom(code), justCreated() ? null : resumeSeat(code)]);
        if (cancelled) return;
        setRoom(found);
        if (found.status === 'ended') setStage({ name: 'ended', ending: 'room_ended' });
        else if (session) {
          const { audio, video, starting } = local.snapshot;
          if (!audio && !video && !starting) void local.start();
          setStage({ name: 'meeting', meeting: new Meeting(session, local) });
        } else setStage({ name: 'prejoin' });
      } catch (error) {
        if (cancelled) return;
        if (transient(error)) {
          // A restart or an outage: say so, and keep trying.
          setStage({ name: 'loading', unreachable: true });
          timer = window.setTimeout(() => void arrive(attempt + 1), retryDelay(attempt + 1));
          return;
        }
        const known = error instanceof ApiError && ['room_not_found', 'room_ended'].includes(error.code);
        setStage({ name: 'ended', ending: known ? (error.code as 'room_not_found') : 'room_not_found' });
      }
    };
    void arrive(0);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [code, local, arrival]);

  useEffect(() => () => local.stop(), [local]);
  useEffect(() => {
    document.title = room?.title ? `${room.title} · moot` : `${code} · moot`;
    return () => {
      document.title = 'moot';
    };
  }, [room, code]);

  // The meeting lives as long as this stage; when it ends, the camera goes off.
  useEffect(() => {
    if (stage.name !== 'meeting') return;
    const { meeting } = stage;
    window.__moot = {
      meeting,
      get peers() {
        return meeting.peerConnections;
      },
    };
    meeting.start();
    const unsubscribe = meeting.subscribe(() => {
      const ending = meeting.snapshot.ending;
      if (ending) {
        local.stop();
        setStage({ name: 'ended', ending });
      }
    });
    return () => {
      unsubscribe();
      meeting.dispose();
    };
  }, [stage, local]);

  if (stage.name === 'loading')
    return (
      <div className="page loading" aria-busy="true">
        {stage.unreachable ? (
          <p className="banner" role="status" data-testid="connection-banner" data-state="unreachable">
            {t('connection.unreachable')}
          </p>
        ) : null}
      </div>
    );
  if (stage.name === 'ended')
    return (
      <EndScreen
        ending={stage.ending}
        code={code}
        onRejoin={() => {
          // Back in if the seat is still there (another tab had the meeting), else the pre-join.
          setStage({ name: 'loading' });
          setArrival((n) => n + 1);
        }}
      />
    );
  if (stage.name === 'prejoin' && room)
    return (
      <PreJoin
        room={room}
        created={justCreated()}
        local={local}
        onJoined={(session) => {
          // In the meeting now: a reload of this page resumes it instead of asking again.
          history.replaceState(null, '');
          setStage({ name: 'meeting', meeting: new Meeting(session, local) });
        }}
        onFatal={(ending) => setStage({ name: 'ended', ending })}
      />
    );
  if (stage.name === 'meeting') return <MeetingView meeting={stage.meeting} local={local} />;
  return null;
}
