// Peer-to-peer media: one RTCPeerConnection per other participant, signalled over the room
// WebSocket (signal.offer / signal.answer / signal.ice, relayed by moot to one participant).
//
// Negotiation follows the "perfect negotiation" pattern. Of each pair, the participant who
// joined the room later is the impolite one; it is also the one that normally offers, since it
// connects last. Offers can be lost (sent to someone whose socket was not connected yet), so:
//  - whoever connects (or reconnects) offers to everyone it has no working connection with;
//  - an impolite peer that ignores a colliding offer re-sends its own, so the polite side,
//    which may never have seen it, can answer;
//  - an offer with a new DTLS fingerprint comes from a fresh RTCPeerConnection (the other side
//    reloaded): the old connection is dropped and a new one answers.
// Microphone/camera on-off state travels on a small negotiated data channel.
//
// A connection that does not come up (or drops) is not left hanging: each peer has a watchdog.
// A connection that fails, stays 'disconnected' for a few seconds or is not connected within
// CONNECT_TIMEOUT_MS restarts ICE on its own (or re-sends an offer that was never answered);
// when that does not help either, the peer is 'failed' and the tile offers a retry, which
// starts a fresh RTCPeerConnection (the other side sees a new fingerprint and answers it).
// Someone who never offers to us (their media did not start) gets an offer from us instead.
import type { LocalTracks, MediaCallbacks, MediaSession, RemoteConnection, RemoteMedia } from './session';

/** How long a connection may take to come up (or to come back after an ICE restart). ICE over
 * a TURN relay takes a few seconds at worst; longer means something blocks it. */
export const CONNECT_TIMEOUT_MS = 12_000;
/** 'disconnected' often heals by itself (a Wi-Fi hiccup): wait this long before restarting. */
const DISCONNECTED_GRACE_MS = 3_000;
/** ICE restarts tried on their own before the tile says it could not connect. */
const AUTO_RESTARTS = 1;

type Send = (frame: Record<string, unknown>) => boolean;

interface PeerState {
  mic: boolean;
  cam: boolean;
  screenMid: string | null;
}

const fingerprint = (sdp: string | undefined) => /a=fingerprint:(\S+ \S+)/.exec(sdp ?? '')?.[1] ?? null;

class Peer {
  readonly pc: RTCPeerConnection;
  channel: RTCDataChannel | null = null;
  makingOffer = false;
  audio: RTCRtpTransceiver | null = null;
  video: RTCRtpTransceiver | null = null;
  screen: RTCRtpTransceiver | null = null;
  remote: PeerState = { mic: true, cam: true, screenMid: null };
  status: RemoteConnection = 'connecting';
  restarts = 0;
  watchdog: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly id: string,
    readonly polite: boolean,
    config: RTCConfiguration,
  ) {
    this.pc = new RTCPeerConnection(config);
  }
}

export class MeshSession implements MediaSession {
  readonly mode = 'mesh' as const;
  readonly peers = new Map<string, Peer>();
  private joinedAt = new Map<string, string>();
  // Signals from one participant are handled one at a time, in order, across reconnections.
  private queues = new Map<string, Promise<void>>();
  private local: LocalTracks = { audio: null, video: null, screen: null, mic: false, cam: false };
  private readonly camStream = new MediaStream();
  private readonly screenStream = new MediaStream();
  private closed = false;
  /** Participants we have no connection with yet, waiting for their offer (by id). */
  private waiting = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly self: string,
    private readonly send: Send,
    private config: RTCConfiguration,
    private readonly callbacks: MediaCallbacks,
  ) {}

  /** Fresh ICE servers (TURN credentials expire): used by new connections and by the ICE
   * restart of one that failed. */
  setIceServers(iceServers: RTCIceServer[]) {
    this.config = { ...this.config, iceServers };
    for (const peer of this.peers.values()) peer.pc.setConfiguration({ ...peer.pc.getConfiguration(), iceServers });
  }

  /** Who is in the room, with when they joined (which decides who is polite). */
  setParticipants(list: Array<{ participant_id: string; joined_at: string }>) {
    this.joinedAt = new Map(list.map((p) => [p.participant_id, p.joined_at]));
    for (const id of [...this.peers.keys()]) if (!this.joinedAt.has(id)) this.drop(id);
    for (const [id, timer] of this.waiting)
      if (!this.joinedAt.has(id)) {
        clearTimeout(timer);
        this.waiting.delete(id);
      }
    // Newcomers normally offer to us; if one has not within the connect timeout (their offer
    // was lost, or their media started late), we offer instead.
    for (const id of this.joinedAt.keys()) {
      if (id === this.self || this.peers.has(id) || this.waiting.has(id)) continue;
      this.waiting.set(
        id,
        setTimeout(() => {
          this.waiting.delete(id);
          if (!this.closed && this.joinedAt.has(id) && !this.peers.has(id)) this.create(id, true);
        }, CONNECT_TIMEOUT_MS),
      );
    }
  }

  /** The user asked to try again: a fresh connection to `id` (to everyone that failed, without
   * an id), with the ICE servers as they are now. */
  retry(id?: string) {
    if (this.closed) return;
    const ids = id ? [id] : [...this.peers.values()].filter((p) => p.status === 'failed').map((p) => p.id);
    for (const target of ids) {
      if (target === this.self || !this.joinedAt.has(target)) continue;
      this.drop(target);
      this.create(target, true);
    }
  }

  /** (Re)start the watchdog: if the connection is not up by then, recover it. */
  private arm(peer: Peer, ms: number) {
    clearTimeout(peer.watchdog);
    peer.watchdog = setTimeout(() => {
      if (peer.pc.connectionState !== 'connected') this.recover(peer);
    }, ms);
  }

  /** First an ICE restart (or our unanswered offer again), then give up and say so. */
  private recover(peer: Peer) {
    clearTimeout(peer.watchdog);
    if (this.closed || this.peers.get(peer.id) !== peer || peer.pc.connectionState === 'connected') return;
    if (peer.restarts >= AUTO_RESTARTS) {
      peer.status = 'failed';
      this.emit();
      return;
    }
    peer.restarts += 1;
    peer.status = 'restarting';
    if (peer.pc.signalingState === 'have-local-offer') this.sendOffer(peer);
    else peer.pc.restartIce();
    this.arm(peer, CONNECT_TIMEOUT_MS);
    this.emit();
  }

  /** After (re)connecting the socket: offer to everyone without a working connection. */
  sync() {
    for (const id of this.joinedAt.keys()) {
      if (id === this.self) continue;
      const peer = this.peers.get(id);
      const state = peer?.pc.connectionState;
      if (!peer || state === 'failed' || state === 'closed' || peer.status === 'failed') {
        if (peer) this.drop(id);
        this.create(id, true);
      } else if (peer.pc.signalingState === 'have-local-offer') {
        this.sendOffer(peer);
      }
    }
  }

  /** I joined earlier than them: I am the polite side of this pair. */
  private politeTowards(id: string) {
    const mine = this.joinedAt.get(this.self);
    const theirs = this.joinedAt.get(id);
    if (!mine || !theirs) return true;
    if (mine !== theirs) return mine < theirs;
    return this.self < id;
  }

  handleSignal(event: { type: string; from: string; sdp?: string; candidate?: RTCIceCandidateInit | null }) {
    if (this.closed) return;
    const run = (task: () => Promise<void>) => {
      const chain = this.queues.get(event.from) ?? Promise.resolve();
      this.queues.set(
        event.from,
        chain.then(task).catch((error) => console.warn('signal', event.type, error)),
      );
    };
    if (event.type === 'signal.offer') run(() => this.onOffer(event.from, event.sdp!));
    else if (event.type === 'signal.answer') run(() => this.onAnswer(event.from, event.sdp!));
    else if (event.type === 'signal.ice' && event.candidate) {
      const candidate = event.candidate;
      run(async () => {
        try {
          await this.peers.get(event.from)?.pc.addIceCandidate(candidate);
        } catch {
          /* a candidate for an offer we ignored or a connection we replaced */
        }
      });
    }
  }

  private async onOffer(from: string, sdp: string) {
    let peer = this.peers.get(from);
    if (peer) {
      const current = peer.pc.remoteDescription;
      if (current?.sdp === sdp) return; // a re-sent offer we already answered
      if (current && fingerprint(current.sdp) !== fingerprint(sdp)) {
        this.drop(from); // they started over with a new connection
        peer = undefined;
      } else if (!current) {
        // Both sides offered before either answered (or ours never arrived).
        if (!peer.polite) {
          if (!peer.makingOffer) this.sendOffer(peer);
          return;
        }
        this.drop(from);
        peer = undefined;
      } else {
        const collision = peer.makingOffer || peer.pc.signalingState !== 'stable';
        if (collision && !peer.polite) return;
      }
    }
    if (!peer) peer = this.create(from, false);
    const pc = peer.pc;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    if (!peer.audio || !peer.video) this.adoptTransceivers(peer);
    await pc.setLocalDescription();
    if (this.peers.get(from) === peer && pc.localDescription)
      this.send({ type: 'signal.answer', to: from, sdp: pc.localDescription.sdp });
  }

  private async onAnswer(from: string, sdp: string) {
    const peer = this.peers.get(from);
    if (!peer || peer.pc.signalingState !== 'have-local-offer') return;
    await peer.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  private create(id: string, initiator: boolean): Peer {
    const peer = new Peer(id, this.politeTowards(id), this.config);
    this.peers.set(id, peer);
    clearTimeout(this.waiting.get(id));
    this.waiting.delete(id);
    this.arm(peer, CONNECT_TIMEOUT_MS);
    const pc = peer.pc;
    const mine = () => this.peers.get(id) === peer && !this.closed;

    pc.onicecandidate = ({ candidate }) => {
      if (mine()) this.send({ type: 'signal.ice', to: id, candidate: candidate ? candidate.toJSON() : null });
    };
    pc.onnegotiationneeded = async () => {
      if (!mine()) return;
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        if (mine()) this.sendOffer(peer);
      } catch (error) {
        console.warn('offer', error);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.ontrack = () => this.emit();
    pc.onconnectionstatechange = () => {
      if (!mine()) return;
      const state = pc.connectionState;
      if (state === 'connected') {
        clearTimeout(peer.watchdog);
        peer.restarts = 0;
        peer.status = 'connected';
      } else if (state === 'failed') this.recover(peer);
      else if (state === 'disconnected') this.arm(peer, DISCONNECTED_GRACE_MS);
      this.emit();
    };
    pc.onsignalingstatechange = () => {
      if (pc.signalingState === 'stable') this.sendState(peer);
    };

    // A negotiated channel (same id on both sides) needs no extra signalling.
    const channel = pc.createDataChannel('moot', { negotiated: true, id: 0 });
    peer.channel = channel;
    channel.onopen = () => this.sendState(peer);
    channel.onmessage = (message) => {
      try {
        const state = JSON.parse(message.data as string) as Partial<PeerState> & { t?: string };
        if (state.t === 'state') {
          peer.remote = { mic: !!state.mic, cam: !!state.cam, screenMid: state.screenMid ?? null };
          this.emit();
        }
      } catch {
        /* not ours */
      }
    };

    if (initiator) {
      peer.audio = pc.addTransceiver(this.local.audio ?? 'audio', { direction: 'sendrecv', streams: [this.camStream] });
      peer.video = pc.addTransceiver(this.local.video ?? 'video', { direction: 'sendrecv', streams: [this.camStream] });
      if (this.local.screen) this.addScreen(peer, this.local.screen);
    }
    this.emit();
    return peer;
  }

  /** Send our offer (again): the one in our local description, if there is one. */
  private sendOffer(peer: Peer) {
    const offer = peer.pc.localDescription;
    if (offer) this.send({ type: 'signal.offer', to: peer.id, sdp: offer.sdp });
  }

  private addScreen(peer: Peer, track: MediaStreamTrack) {
    peer.screen = peer.pc.addTransceiver(track, { direction: 'sendonly', streams: [this.screenStream] });
  }

  /** Answering a first offer: send our tracks on the audio and video lines it brought. */
  private adoptTransceivers(peer: Peer) {
    for (const transceiver of peer.pc.getTransceivers()) {
      const kind = transceiver.receiver.track.kind;
      if (kind === 'audio' && !peer.audio) {
        peer.audio = transceiver;
        this.attach(transceiver, this.local.audio, this.camStream);
      } else if (kind === 'video' && !peer.video) {
        peer.video = transceiver;
        this.attach(transceiver, this.local.video, this.camStream);
      }
    }
    if (this.local.screen && !peer.screen) this.addScreen(peer, this.local.screen);
  }

  private attach(transceiver: RTCRtpTransceiver, track: MediaStreamTrack | null, stream: MediaStream) {
    transceiver.direction = 'sendrecv';
    void transceiver.sender.replaceTrack(track);
    transceiver.sender.setStreams?.(stream);
  }

  updateLocal(local: LocalTracks) {
    const previous = this.local;
    this.local = local;
    for (const peer of this.peers.values()) {
      if (local.audio !== previous.audio && peer.audio) void peer.audio.sender.replaceTrack(local.audio);
      if (local.video !== previous.video && peer.video) void peer.video.sender.replaceTrack(local.video);
      if (local.screen !== previous.screen) {
        if (peer.screen) void peer.screen.sender.replaceTrack(local.screen);
        // Not before the first negotiation is under way: that one adds the screen itself.
        else if (local.screen && peer.audio) this.addScreen(peer, local.screen);
      }
      this.sendState(peer);
    }
  }

  private sendState(peer: Peer) {
    if (peer.channel?.readyState !== 'open') return;
    peer.channel.send(
      JSON.stringify({
        t: 'state',
        mic: this.local.mic && !!this.local.audio,
        cam: this.local.cam && !!this.local.video,
        screenMid: this.local.screen ? (peer.screen?.mid ?? null) : null,
      }),
    );
  }

  private drop(id: string) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    clearTimeout(peer.watchdog);
    peer.pc.close();
    this.emit();
  }

  /** Someone left the room. */
  remove(id: string) {
    this.joinedAt.delete(id);
    this.queues.delete(id);
    clearTimeout(this.waiting.get(id));
    this.waiting.delete(id);
    this.drop(id);
  }

  private emit() {
    const remotes = new Map<string, RemoteMedia>();
    for (const peer of this.peers.values()) {
      const screen = peer.remote.screenMid
        ? (peer.pc.getTransceivers().find((t) => t.mid === peer.remote.screenMid)?.receiver.track ?? null)
        : null;
      remotes.set(peer.id, {
        participantId: peer.id,
        audio: peer.audio?.receiver.track ?? null,
        video: peer.video?.receiver.track ?? null,
        screen,
        mic: peer.remote.mic,
        cam: peer.remote.cam,
        connection: peer.status,
      });
    }
    this.callbacks.onRemotes(remotes);
  }

  close() {
    this.closed = true;
    for (const timer of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    for (const peer of this.peers.values()) {
      clearTimeout(peer.watchdog);
      peer.pc.close();
    }
    this.peers.clear();
  }
}
