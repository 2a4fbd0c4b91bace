// One tab per meeting in this browser. All tabs share one identity (localStorage), so a second
// tab opened on a meeting is the same person coming back: it takes the meeting over, and the
// tab that had it steps aside without leaving (the seat, the role and the media move over).
const CHANNEL = 'moot.meeting';
const tab = Math.random().toString(36).slice(2);

interface Claim {
  room: string;
  tab: string;
}

/** Take the meeting `room` over from any other tab; `onTakenOver` runs if another tab takes
 * it from this one later. Returns the release. */
export function claimMeeting(room: string, onTakenOver: () => void): () => void {
  if (typeof BroadcastChannel === 'undefined') return () => undefined;
  const channel = new BroadcastChannel(CHANNEL);
  channel.onmessage = (message: MessageEvent<Claim>) => {
    if (message.data?.room === room && message.data.tab !== tab) onTakenOver();
  };
  channel.postMessage({ room, tab } satisfies Claim);
  return () => channel.close();
}
