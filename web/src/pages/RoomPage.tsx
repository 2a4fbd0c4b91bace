// `/r/<code>`: the pre-join screen, then the meeting, then how it ended — one page, so the
// camera preview carries straight into the call.
import { useEffect, useMemo, useState } from 'react';
import { api, ApiError, getIdentity } from '../api';
import { LocalMedia } from '../media/localMedia';
import { Meeting, type MeetingEnding } from '../meeting';
import type { Room } from '../types';
import { EndScreen } from './EndScreen';
import { MeetingView } from './MeetingView';
import { PreJoin } from './PreJoin';

type Stage =
  | { name: 'loading' }
  | { name: 'prejoin' }
  | { name: 'meeting'; meeting: Meeting }
  | { name: 'ended'; ending: MeetingEnding | 'removed_from_room' | 'room_ended' | 'room_not_found' };

declare global {
  interface Window {
    __moot?: { meeting: Meeting | null; readonly peers: Map<string, RTCPeerConnection> };
  }
}

export function RoomPage({ code }: { code: string }) {
  const local = useMemo(() => new LocalMedia(), []);
  const [room, setRoom] = useState<Room | null>(null);
  const [stage, setStage] = useState<Stage>({ name: 'loading' });

  useEffect(() => {
    let cancelled = false;
    api.getRoom(code).then(
      (found) => {
        if (cancelled) return;
        setRoom(found);
        setStage(found.status === 'ended' ? { name: 'ended', ending: 'room_ended' } : { name: 'prejoin' });
      },
      (error) => {
        if (cancelled) return;
        const known = error instanceof ApiError && ['room_not_found', 'room_ended'].includes(error.code);
        setStage({ name: 'ended', ending: known ? (error.code as 'room_not_found') : 'room_not_found' });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [code]);

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

  if (stage.name === 'loading') return <div className="page loading" aria-busy="true" />;
  if (stage.name === 'ended')
    return (
      <EndScreen
        ending={stage.ending}
        code={code}
        onRejoin={() => {
          setStage({ name: 'prejoin' });
        }}
      />
    );
  if (stage.name === 'prejoin' && room)
    return (
      <PreJoin
        room={room}
        created={!!(history.state as { created?: boolean } | null)?.created}
        local={local}
        onJoined={(session) =>
          void getIdentity().then((identity) =>
            setStage({ name: 'meeting', meeting: new Meeting(session, identity, local) }),
          )
        }
        onFatal={(ending) => setStage({ name: 'ended', ending })}
      />
    );
  if (stage.name === 'meeting') return <MeetingView meeting={stage.meeting} local={local} />;
  return null;
}
