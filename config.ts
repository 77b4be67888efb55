/**
 * Every setting of a node, its default and its validation. The CLI derives one flag per
 * setting from this file (`activeSize` is `--active-size`), so a new setting needs no CLI code.
 */

export interface Address {
  host: string;
  port: number;
}

export interface NodeConfig {
  // --- identity and addresses -------------------------------------------------------------
  /** Address to listen on. `0.0.0.0` or `::` listen on every interface. @default '127.0.0.1' */
  host: string;
  /** Port to listen on; 0 picks any free port. @default 0 */
  port: number;
  /**
   * Address peers should dial, `HOST:PORT`. Without it the node announces its listen address;
   * a wildcard listen address is then replaced by the address a peer saw it connect from.
   * @default undefined
   */
  announce: Address | undefined;
  /** Display name, at most 32 UTF-8 bytes; not unique. @default 'peer-<id prefix>' */
  name: string;
  /** Folder that keeps the identity key (mode 0600); ephemeral identity when unset. @default undefined */
  dataDir: string | undefined;
  /** The mesh's free name; nodes of another network refuse the handshake. @default 'default' */
  network: string;
  /**
   * Passphrase of a private mesh; every handshake proves knowledge of it. A recorded handshake
   * lets anyone test guesses offline, so use a random one (`p2pchat keygen`: 64 hex characters).
   * The CLI reads it from `--network-key-file` or `P2PCHAT_NETWORK_KEY` (`--network-key` is
   * deprecated: every user sees it in `ps`). @default undefined
   */
  networkKey: string | undefined;
  /** Contacts to join through, tried in order. @default [] */
  seeds: Address[];

  // --- framing and links ------------------------------------------------------------------
  /** Largest frame body accepted or sent, checked on the length prefix. @default 65536 */
  maxFrameBytes: number;
  /** Absolute deadline for the whole handshake, from connect or accept. @default 5000 */
  handshakeTimeoutMs: number;
  /** Silence on a link after which a Ping is sent. @default 5000 */
  pingIdleMs: number;
  /** How long each Ping waits for an answer. @default 5000 */
  pingTimeoutMs: number;
  /** Unanswered Pings in a row that declare a link dead: dead within idle + missed * timeout. @default 2 */
  maxMissedPings: number;
  /** Bytes queued for a peer that does not read; over it the peer is dropped. @default 1048576 */
  maxSendQueueBytes: number;
  /** A short-lived (non-active) connection closes after this much idle time. @default 5000 */
  shortLivedIdleMs: number;
  /**
   * A short-lived connection closes this long after it opened, however busy: membership messages
   * must not keep a link outside the views alive for ever. @default 30000
   */
  shortLivedMaxMs: number;
  /**
   * After we close a link, how long frames the peer sent before it saw the close are still read
   * (a Routed in flight is delivered, not lost); after a refusal nothing more is read. Either
   * way the socket is cut this long after the close if the peer never closes its side. @default 2000
   */
  linkDrainMs: number;
  /** Timeout for a TCP connect. @default 5000 */
  dialTimeoutMs: number;

  // --- admission -------------------------------------------------------------------------
  /** Connections open at once, in and out, handshaking or not. @default 512 */
  maxConnections: number;
  /** Connections at once from one remote IP (loopback exempt unless limitLoopback). @default 16 */
  maxConnectionsPerIp: number;
  /** New inbound connections per second, token bucket refill rate. @default 100 */
  acceptRatePerSecond: number;
  /** Burst size of the inbound token bucket. @default 200 */
  acceptBurst: number;
  /**
   * Connections at once from one IPv4 /24 (loopback exempt unless limitLoopback); an IPv6 /64 is
   * already one address for `maxConnectionsPerIp`. @default 64
   */
  maxConnectionsPerSubnet: number;
  /** New inbound connections per second from one address (an IPv6 /64), so no one client drains the global bucket. @default 10 */
  acceptRatePerAddressPerSecond: number;
  /** Burst of the per-address inbound bucket. @default 20 */
  acceptBurstPerAddress: number;
  /**
   * Of `maxConnections`, slots that inbound connections never take, so that a node saturated by
   * others can still dial to heal; at most a quarter of `maxConnections` is kept back. @default 32
   */
  reservedDialSlots: number;
  /** Hold loopback to the per-IP limits too (tests of the limits use it). @default false */
  limitLoopback: boolean;
  /** Dials in flight at once. @default 32 */
  maxPendingDials: number;
  /**
   * New connections this node opens to one address (host and port) per minute, whatever asks for
   * them (Shuffle, ShuffleReply, ForwardJoin, Join, repair): the node is never a tool to flood a
   * third party. Refills continuously; `dialsPerAddressBurst` may go at once. A dial that reaches
   * a node (its Auth verifies) is given back: only addresses that do not answer as nodes pay, so
   * repair among live nodes is never slowed. @default 6
   */
  dialsPerAddressPerMinute: number;
  /** Burst of the per-address dial budget. @default 4 */
  dialsPerAddressBurst: number;
  /** How long a misbehaving peer (bad frame, bad signature) is refused, by id and address. @default 600000 */
  banMs: number;

  // --- membership ------------------------------------------------------------------------
  /** Membership strategy: hyparview, cyclon, full, or a registered name. @default 'hyparview' */
  membership: string;
  /** HyParView active view size (open, symmetric connections). @default 5 */
  activeSize: number;
  /** HyParView passive view size (known addresses). @default 30 */
  passiveSize: number;
  /** Active random walk length of ForwardJoin and Shuffle. @default 6 */
  arwl: number;
  /** Passive random walk length: ForwardJoin adds to the passive view at this TTL. @default 3 */
  prwl: number;
  /** Period of the membership round (shuffle), jittered by +-25%. @default 10000 */
  shuffleIntervalMs: number;
  /** ka: active entries in a Shuffle. @default 3 */
  shuffleActive: number;
  /** kp: passive entries in a Shuffle. @default 4 */
  shufflePassive: number;
  /** Most entries accepted in one Shuffle or ShuffleReply; more closes with LIMIT. @default 32 */
  maxEntriesPerMessage: number;
  /**
   * Peer-exchange entries accepted per second from one link: the refill rate of a token bucket
   * that every Shuffle (its entries and its origin), ShuffleReply (its entries) and ForwardJoin
   * (one) draws from before the membership strategy sees it. A message the bucket cannot pay is
   * dropped and counted (`node.drop.exchange-rate`); a link that goes on to send another full
   * burst beyond its allowance is closed with LIMIT and banned for `banMs`. An honest HyParView
   * neighbour sends a few Shuffles of ka + kp + 1 entries per shuffle period; a `full` one up to
   * 8 x maxEntriesPerMessage entries per round. @default 1000
   */
  peerEntriesPerSecond: number;
  /** Burst size of the per-link peer-exchange bucket; at least maxEntriesPerMessage + 1. @default 2000 */
  peerEntriesBurst: number;
  /**
   * Cap of the jittered backoff between healing attempts, and between dials to one address whose
   * dials keep failing. @default 10000
   */
  retryMaxBackoffMs: number;
  /**
   * First backoff of healing attempts, doubled on each failure up to the cap. Also the least wait
   * before an address whose dial failed is dialled again (doubled per further failure, plus up to
   * 50% jitter, never past the cap), whoever asks for the dial. @default 250
   */
  retryBaseBackoffMs: number;
  /** Consecutive failures after which a passive entry is dropped. @default 3 */
  passiveMaxFailures: number;
  /** Cyclon view size. @default 35 */
  cyclonViewSize: number;
  /** Cyclon shuffle length (entries exchanged). @default 14 */
  cyclonShuffleLength: number;
  /** `full` membership: connections each node keeps to random known nodes. @default 5 */
  fullDegree: number;
  /** `full` membership: most addresses it remembers. @default 10000 */
  fullMaxKnown: number;

  // --- routing ---------------------------------------------------------------------------
  /** Broadcast strategy: flood, gossip, plumtree, or a registered name. @default 'flood' */
  router: string;
  /**
   * TTL of the messages this node originates. @default 16, and maxTtl with Plumtree: a path
   * along its tree is longer than the overlay's diameter (28 to 31 hops across a 1,000-node
   * mesh of diameter 8 that grew under traffic), and a copy whose TTL runs out on the tree
   * reaches the nodes behind only by Graft, a second later, with duplicates and prunes after it.
   */
  ttl: number;
  /** Highest TTL honoured; a received one above it is lowered to it, hops above it drop. @default 32 */
  maxTtl: number;
  /** Seen-cache entries (dedup by origin and id). @default 100000 */
  seenCacheSize: number;
  /** Seen-cache entry lifetime. @default 600000 */
  seenCacheTtlMs: number;
  /**
   * Oldest a message may be to be accepted, by its `sent_at_ms` against this node's clock: it
   * covers transit and an origin whose clock runs behind. Older ones are dropped and counted
   * (`drop.sentTooLongAgo`): the seen cache may have forgotten them, and a replay would be
   * delivered again. The router shrinks it to fit what the seen cache still holds, so it reaches
   * back at most seenCacheTtlMs - maxClockSkewMs, less while a flood turns the cache over by
   * count (see seen-cache.ts). @default 300000
   */
  maxMessageAgeMs: number;
  /**
   * Clock-skew allowance: how far ahead of this node's clock an origin's may run. A message sent
   * later than now + this is dropped and counted (`drop.sentInFuture`). Less than half of
   * seenCacheTtlMs, so that the window left for the age is at least as long. @default 30000
   */
  maxClockSkewMs: number;
  /** Routes kept (one per origin). @default 10000 */
  routeCacheSize: number;
  /**
   * How long a sender waits for a direct message's Receipt. A Text sent along a learned route
   * whose Receipt has not come within half of it floods, and that route is dropped (route-table.ts).
   * @default 10000
   */
  receiptTimeoutMs: number;
  /** Gossip: neighbours each message is forwarded to. @default 4 */
  gossipFanout: number;
  /** Plumtree: wait after an IHave before grafting the missing message. @default 1000 */
  plumtreeGraftTimeoutMs: number;
  /** Plumtree: IHave announcements are batched for this long. @default 100 */
  plumtreeLazyFlushMs: number;
  /**
   * Plumtree: a link that brought the first copy of any message this recently is not pruned for
   * a duplicate. With broadcasts from several origins in flight at once, such a link is on the
   * tree of one of them, and pruning it leaves nodes with no eager path: every message then
   * comes by Graft a second late, the next broadcasts overlap even more, and the tree never
   * forms again. One broadcast at a time never meets the window: the paper's rule. 0: the
   * paper's rule always. @default 1000
   */
  plumtreePruneGraceMs: number;
  /** Most ids in one IHave or Graft; more closes the link with LIMIT. @default 256 */
  maxIdsPerMessage: number;
  /** Plumtree: most message ids remembered for Graft answers. @default 10000 */
  plumtreeCacheSize: number;
  /**
   * Routed frames one neighbour may send per second. A relay forwards the whole mesh's traffic,
   * so this is sized for a busy mesh, not one chatter: over it, frames are dropped and counted;
   * at twice the burst at once (or twice the rate for long) the link is closed with LIMIT and the
   * peer banned. @default 1000
   */
  routedPerSecond: number;
  /** Burst of the per-link Routed budget. @default 5000 */
  routedBurst: number;
  /**
   * Message ids a neighbour may ask for in Graft per second, per link: each may send a whole
   * cached message back, so a Graft is an amplifier. Over it dropped, twice over closed with LIMIT
   * and banned. @default 512
   */
  graftIdsPerSecond: number;
  /** Burst of the per-link Graft budget. @default 1024 */
  graftIdsBurst: number;
  /**
   * Chat texts one origin may have accepted per second, however many relays carry them: a
   * validly signed spammer is stopped at its first hop. Its own node refuses to send over it, so
   * an honest user learns at once. Receipts are not counted: each answers a text. @default 20
   */
  originTextsPerSecond: number;
  /** Burst of the per-origin text budget (a pasted paragraph). @default 100 */
  originTextsBurst: number;
}

export const DEFAULTS: Readonly<NodeConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  announce: undefined,
  name: '',
  dataDir: undefined,
  network: 'default',
  networkKey: undefined,
  seeds: [],
  maxFrameBytes: 65536,
  handshakeTimeoutMs: 5000,
  pingIdleMs: 5000,
  pingTimeoutMs: 5000,
  maxMissedPings: 2,
  maxSendQueueBytes: 1024 * 1024,
  shortLivedIdleMs: 5000,
  shortLivedMaxMs: 30_000,
  linkDrainMs: 2000,
  dialTimeoutMs: 5000,
  maxConnections: 512,
  maxConnectionsPerIp: 16,
  acceptRatePerSecond: 100,
  acceptBurst: 200,
  maxConnectionsPerSubnet: 64,
  acceptRatePerAddressPerSecond: 10,
  acceptBurstPerAddress: 20,
  reservedDialSlots: 32,
  limitLoopback: false,
  maxPendingDials: 32,
  dialsPerAddressPerMinute: 6,
  dialsPerAddressBurst: 4,
  banMs: 600_000,
  membership: 'hyparview',
  activeSize: 5,
  passiveSize: 30,
  arwl: 6,
  prwl: 3,
  shuffleIntervalMs: 10_000,
  shuffleActive: 3,
  shufflePassive: 4,
  maxEntriesPerMessage: 32,
  peerEntriesPerSecond: 1000,
  peerEntriesBurst: 2000,
  retryMaxBackoffMs: 10_000,
  retryBaseBackoffMs: 250,
  passiveMaxFailures: 3,
  cyclonViewSize: 35,
  cyclonShuffleLength: 14,
  fullDegree: 5,
  fullMaxKnown: 10_000,
  router: 'flood',
  ttl: 16,
  maxTtl: 32,
  seenCacheSize: 100_000,
  seenCacheTtlMs: 600_000,
  maxMessageAgeMs: 300_000,
  maxClockSkewMs: 30_000,
  routeCacheSize: 10_000,
  receiptTimeoutMs: 10_000,
  gossipFanout: 4,
  plumtreeGraftTimeoutMs: 1000,
  plumtreeLazyFlushMs: 100,
  plumtreePruneGraceMs: 1000,
  maxIdsPerMessage: 256,
  plumtreeCacheSize: 10_000,
  routedPerSecond: 1000,
  routedBurst: 5000,
  graftIdsPerSecond: 512,
  graftIdsBurst: 1024,
  originTextsPerSecond: 20,
  originTextsBurst: 100,
});

type NumericKey = { [K in keyof NodeConfig]: NodeConfig[K] extends number ? K : never }[keyof NodeConfig];

/** Inclusive integer ranges of every numeric setting. */
export const RANGES: Readonly<Record<NumericKey, readonly [number, number]>> = Object.freeze({
  port: [0, 65535],
  maxFrameBytes: [64, 16 * 1024 * 1024],
  handshakeTimeoutMs: [10, 600_000],
  pingIdleMs: [10, 3_600_000],
  pingTimeoutMs: [10, 3_600_000],
  maxMissedPings: [1, 100],
  maxSendQueueBytes: [65536, 1024 * 1024 * 1024],
  shortLivedIdleMs: [10, 3_600_000],
  shortLivedMaxMs: [10, 86_400_000],
  linkDrainMs: [10, 600_000],
  dialTimeoutMs: [10, 600_000],
  maxConnections: [1, 100_000],
  maxConnectionsPerIp: [1, 100_000],
  acceptRatePerSecond: [1, 1_000_000],
  acceptBurst: [1, 1_000_000],
  maxConnectionsPerSubnet: [1, 100_000],
  acceptRatePerAddressPerSecond: [1, 1_000_000],
  acceptBurstPerAddress: [1, 1_000_000],
  reservedDialSlots: [0, 100_000],
  maxPendingDials: [1, 10_000],
  dialsPerAddressPerMinute: [1, 1_000_000],
  dialsPerAddressBurst: [1, 1_000_000],
  banMs: [0, 86_400_000],
  activeSize: [1, 64],
  passiveSize: [0, 4096],
  arwl: [0, 32],
  prwl: [0, 32],
  shuffleIntervalMs: [10, 3_600_000],
  shuffleActive: [0, 32],
  shufflePassive: [0, 32],
  maxEntriesPerMessage: [1, 4096],
  peerEntriesPerSecond: [1, 1_000_000],
  peerEntriesBurst: [1, 10_000_000],
  retryMaxBackoffMs: [1, 3_600_000],
  retryBaseBackoffMs: [1, 3_600_000],
  passiveMaxFailures: [1, 100],
  cyclonViewSize: [1, 4096],
  cyclonShuffleLength: [1, 4096],
  fullDegree: [1, 64],
  fullMaxKnown: [1, 1_000_000],
  ttl: [1, 255],
  maxTtl: [1, 255],
  seenCacheSize: [16, 10_000_000],
  seenCacheTtlMs: [1000, 86_400_000],
  maxMessageAgeMs: [1000, 86_400_000],
  maxClockSkewMs: [0, 3_600_000],
  routeCacheSize: [1, 10_000_000],
  receiptTimeoutMs: [10, 3_600_000],
  gossipFanout: [1, 64],
  plumtreeGraftTimeoutMs: [1, 600_000],
  plumtreeLazyFlushMs: [0, 60_000],
  plumtreePruneGraceMs: [0, 600_000],
  maxIdsPerMessage: [1, 65536],
  routedPerSecond: [1, 10_000_000],
  routedBurst: [1, 100_000_000],
  graftIdsPerSecond: [1, 10_000_000],
  graftIdsBurst: [1, 100_000_000],
  originTextsPerSecond: [1, 10_000_000],
  originTextsBurst: [1, 100_000_000],
  plumtreeCacheSize: [1, 10_000_000],
});

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses `HOST:PORT`, `[v6]:PORT`, or a bare port (meaning 127.0.0.1). */
export function parseAddress(text: string): Address {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  const plain = /^([^:]*):(\d+)$/.exec(text);
  const bare = /^(\d+)$/.exec(text);
  const [host, port] = bracketed
    ? [bracketed[1], bracketed[2]]
    : plain
      ? [plain[1], plain[2]]
      : bare
        ? ['127.0.0.1', bare[1]]
        : [undefined, undefined];
  const portNumber = Number(port);
  if (!host || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
    throw new ConfigError(`bad address '${text}': expected HOST:PORT with a port from 1 to 65535`);
  }
  return { host, port: portNumber };
}

/** `0.0.0.0`, `::` or empty: "every interface", an address nobody can dial. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

export function formatAddress({ host, port }: Address): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Fills defaults and validates; throws ConfigError naming the first bad setting. */
export function resolveConfig(overrides: Partial<NodeConfig> = {}): NodeConfig {
  const config: NodeConfig = { ...DEFAULTS, ...stripUndefined(overrides) };
  if (overrides.ttl === undefined && config.router === 'plumtree') config.ttl = config.maxTtl;
  for (const [key, [min, max]] of Object.entries(RANGES) as Array<[NumericKey, readonly [number, number]]>) {
    const value = config[key];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${key} must be an integer from ${min} to ${max}, got ${String(value)}`);
    }
  }
  if (Buffer.byteLength(config.name) > 32) throw new ConfigError('name must be at most 32 bytes of UTF-8');
  if (config.network.length === 0) config.network = 'default';
  if (Buffer.byteLength(config.network) > 64) throw new ConfigError('network must be at most 64 bytes');
  if (config.networkKey !== undefined && config.networkKey.length === 0) {
    throw new ConfigError('network key must not be empty');
  }
  if (config.host.length === 0) throw new ConfigError('host must not be empty');
  if (config.ttl > config.maxTtl) throw new ConfigError(`ttl ${config.ttl} exceeds maxTtl ${config.maxTtl}`);
  if (config.maxClockSkewMs * 2 >= config.seenCacheTtlMs) {
    throw new ConfigError('maxClockSkewMs must be less than half of seenCacheTtlMs');
  }
  if (config.prwl > config.arwl) throw new ConfigError(`prwl ${config.prwl} exceeds arwl ${config.arwl}`);
  if (config.shuffleActive + config.shufflePassive + 1 > config.maxEntriesPerMessage) {
    throw new ConfigError('shuffleActive + shufflePassive + 1 must fit in maxEntriesPerMessage');
  }
  if (config.peerEntriesBurst < config.maxEntriesPerMessage + 1) {
    throw new ConfigError(
      'peerEntriesBurst must be at least maxEntriesPerMessage + 1 (a full Shuffle and its origin)',
    );
  }
  if (config.cyclonShuffleLength > config.maxEntriesPerMessage) {
    throw new ConfigError('cyclonShuffleLength must fit in maxEntriesPerMessage');
  }
  if (config.retryBaseBackoffMs > config.retryMaxBackoffMs) {
    throw new ConfigError('retryBaseBackoffMs must not exceed retryMaxBackoffMs');
  }
  return config;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
