/**
 * Who of a role's nodes owns the role's addresses, the way keepalived's VRRP decides who holds a
 * virtual IP: every node sends small UDP adverts to its peers; a standby that hears nothing from
 * the active node for `deadAfterMs` fences it (has it SIGKILLed, so a hung node cannot keep the
 * ports) and takes over by starting the role on the same addresses.
 * Among several standbys the one with the lowest node name takes over; the others keep waiting.
 * An active node that hears a newer active (higher epoch) has been replaced and exits at once.
 *
 * Mode 'peers' (an active-active role, e.g. sip-edge nodes behind Kamailio's dispatcher): every
 * node is active at its own addresses and nobody takes anything over; a node that falls silent
 * for `deadAfterMs` is fenced all the same and then announced (`onPeerDead`), so its survivors
 * adopt what it carried. It counts as alive again once it adverts again (recovered).
 */
import dgram, { type Socket } from 'node:dgram';
import type { ClusterNodeSpec, ClusterTiming } from './spec';

export type MemberState = 'standby' | 'activating' | 'active';

interface Advert {
  role: string;
  node: string;
  pid: number;
  state: MemberState;
  epoch: number;
}

interface PeerView extends Advert {
  heardAt: number;
}

export interface MembershipOptions {
  self: ClusterNodeSpec;
  peers: ClusterNodeSpec[];
  timing: ClusterTiming;
  initial: 'active' | 'standby';
  /** Starts the role on its addresses; called once, when this node becomes active. */
  activate(): Promise<void>;
  onState(state: MemberState, epoch: number, fenced?: { node: string; pid: number }): void;
  log(message: string): void;
  /** Called when this node learns it was replaced while it thought itself active. */
  superseded(by: Advert): void;
  /**
   * Kills a silent node and resolves once it is gone: true when it was still there (hung), false
   * when it had already died. The supervisor does it for its own child, so a recycled pid is never hit.
   */
  fence(node: string, pid: number): Promise<boolean>;
  /** 'takeover' (default): one active node, standbys take its addresses. 'peers': all active. */
  mode?: 'takeover' | 'peers';
  /** Mode 'peers': a silent peer has been fenced; what it carried is the survivors' now. */
  onPeerDead?(node: string): void;
  /**
   * Mode 'peers': fences a peer never heard at all (its pid unknown) if it has been sending
   * adverts for `unheardForMs` (they never arrived); 'refused' while it is still starting.
   */
  fenceUnheard?(node: string, unheardForMs: number): Promise<'killed' | 'gone' | 'refused'>;
}

export class Membership {
  private socket: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private state: MemberState = 'standby';
  private epoch = 0;
  private readonly peers = new Map<string, PeerView>();
  private readonly startedAt = Date.now();
  /** Mode 'peers': peers fenced after falling silent (until they advert again), and those being fenced. */
  private readonly dead = new Set<string>();
  private readonly fencing = new Set<string>();

  constructor(private readonly options: MembershipOptions) {}

  isActive(): boolean {
    return this.state === 'active';
  }

  /** Mode 'peers': true once `node` fell silent and was fenced (and has not adverted since). */
  isDead(node: string): boolean {
    return this.dead.has(node);
  }

  /** Mode 'peers': the nodes of the role not known dead, this one included. */
  livingNodes(): string[] {
    return [this.options.self.node, ...this.options.peers.map((p) => p.node)].filter(
      (n) => !this.dead.has(n),
    );
  }

  async start(): Promise<void> {
    const socket = dgram.createSocket('udp4');
    this.socket = socket;
    socket.on('message', (data) => this.heard(data));
    socket.on('error', (error) => this.options.log(`heartbeat socket: ${error.message}`));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.options.self.heartbeatPort, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.timer = setInterval(() => this.tick(), this.options.timing.advertIntervalMs);
    // In mode 'peers' every node serves; 'standby' only says it joins a running role.
    if (this.options.initial === 'active' || this.options.mode === 'peers')
      await this.becomeActive(undefined);
    else this.report();
    this.advertise();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.socket?.close();
  }

  private heard(data: Buffer): void {
    let advert: Advert;
    try {
      advert = JSON.parse(data.toString('utf8')) as Advert;
    } catch {
      this.options.log('ignored an advert that is not JSON');
      return;
    }
    if (advert.role !== this.options.self.role || advert.node === this.options.self.node) return;
    const known = this.peers.get(advert.node);
    this.peers.set(advert.node, { ...advert, heardAt: Date.now() });
    if (this.options.mode === 'peers') {
      // Only a new process of a fenced node comes back (a fenced one is killed).
      if (this.dead.has(advert.node) && known?.pid !== advert.pid) {
        this.dead.delete(advert.node);
        this.options.log(`peer ${advert.node} is back (pid ${advert.pid})`);
      }
      return;
    }
    if (advert.state !== 'standby' && this.state !== 'standby' && advert.epoch > this.epoch) {
      this.options.log(
        `node ${advert.node} took over (epoch ${advert.epoch} > ${this.epoch}): this node stops`,
      );
      this.options.superseded(advert);
    }
  }

  private tick(): void {
    this.advertise();
    if (this.options.mode === 'peers') return this.watchPeers();
    if (this.state !== 'standby') return;
    const now = Date.now();
    const { deadAfterMs } = this.options.timing;
    // A node that just started listens for one dead interval before it may claim anything.
    if (now - this.startedAt < deadAfterMs) return;
    const alive = [...this.peers.values()].filter((peer) => now - peer.heardAt <= deadAfterMs);
    if (alive.some((peer) => peer.state !== 'standby')) return;
    const candidates = [this.options.self.node, ...alive.map((peer) => peer.node)].sort();
    if (candidates[0] !== this.options.self.node) return;
    const silent = [...this.peers.values()].find((peer) => peer.state !== 'standby');
    void this.becomeActive(silent);
  }

  /** Mode 'peers': fences every peer silent for deadAfterMs, then announces it dead. */
  private watchPeers(): void {
    const now = Date.now();
    const { deadAfterMs } = this.options.timing;
    // A peer never heard (it hung or died before its first advert reached this node).
    if (now - this.startedAt > deadAfterMs && this.options.fenceUnheard)
      for (const { node } of this.options.peers) {
        if (this.peers.has(node) || this.dead.has(node) || this.fencing.has(node)) continue;
        this.fencing.add(node);
        void this.options
          .fenceUnheard(node, deadAfterMs)
          .then((outcome) => {
            if (outcome === 'refused') return;
            this.options.log(`peer ${node} never heard for ${Date.now() - this.startedAt} ms: ${outcome}`);
            this.dead.add(node);
            this.report(outcome === 'killed' ? { node, pid: 0 } : undefined);
            this.options.onPeerDead?.(node);
          })
          .finally(() => this.fencing.delete(node));
      }
    for (const peer of this.peers.values()) {
      if (now - peer.heardAt <= this.options.timing.deadAfterMs) continue;
      if (this.dead.has(peer.node) || this.fencing.has(peer.node)) continue;
      this.fencing.add(peer.node);
      this.options.log(
        `no advert from peer ${peer.node} for ${now - peer.heardAt} ms: fencing pid ${peer.pid}, adopting what it carried`,
      );
      void this.options
        .fence(peer.node, peer.pid)
        .then((killed) => {
          this.dead.add(peer.node);
          this.report(killed ? { node: peer.node, pid: peer.pid } : undefined);
          this.options.onPeerDead?.(peer.node);
        })
        .finally(() => this.fencing.delete(peer.node));
    }
  }

  private async becomeActive(silent: PeerView | undefined): Promise<void> {
    this.epoch = Math.max(this.epoch, ...[...this.peers.values()].map((peer) => peer.epoch)) + 1;
    this.state = 'activating';
    let fenced: { node: string; pid: number } | undefined;
    if (silent) {
      this.options.log(
        `no advert from active node ${silent.node} for ${Date.now() - silent.heardAt} ms: fencing pid ${silent.pid}, taking over`,
      );
      if (await this.options.fence(silent.node, silent.pid)) fenced = { node: silent.node, pid: silent.pid };
      this.peers.delete(silent.node);
    }
    this.report(fenced);
    this.advertise();
    await this.options.activate();
    this.state = 'active';
    this.report();
    this.advertise();
  }

  private report(fenced?: { node: string; pid: number }): void {
    this.options.onState(this.state, this.epoch, fenced);
  }

  private advertise(): void {
    const socket = this.socket;
    if (!socket) return;
    const advert: Advert = {
      role: this.options.self.role,
      node: this.options.self.node,
      pid: process.pid,
      state: this.state,
      epoch: this.epoch,
    };
    const data = Buffer.from(JSON.stringify(advert));
    for (const peer of this.options.peers) socket.send(data, peer.heartbeatPort, '127.0.0.1');
  }
}
