/**
 * The checks docs/protocol.md section 4 sets on a membership message, made once where the message
 * enters the node, before any strategy sees it, and what each failure costs the sender, in one
 * table. What passes is a `CheckedMembershipMessage` (membership/strategy.ts): the NodeInfo a
 * ForwardJoin announces, a Shuffle's origin and every entry of a Shuffle or ShuffleReply are
 * present and valid (an id is the hash of its key), and a Shuffle or ShuffleReply carries at most
 * `maxEntriesPerMessage` entries. This is the one place a gossiped NodeInfo is judged valid; a
 * linked peer's own NodeInfo is judged by the handshake (link/link.ts).
 */
import { nodeInfoProblem } from '../crypto/identity.js';
import type {
  CheckedMembershipMessage,
  CheckedPeerEntry,
  MembershipMessage,
} from '../membership/strategy.js';
import type { ErrorCodeName, PeerEntry } from '../proto/messages.js';

/** Why a membership message is refused. */
export type MembershipProblem = 'entriesOverLimit' | 'invalidNode' | 'invalidOrigin';

/**
 * `close`: the link is closed with the code (the sender broke a fixed limit every implementation
 * knows). `drop`: the message is dropped and counted, the link kept (a peer may relay a NodeInfo
 * it could not judge, such as one from a ForwardJoin walk).
 */
export type MembershipAction = { close: ErrorCodeName } | 'drop';

export const MEMBERSHIP_RULES: Readonly<Record<MembershipProblem, MembershipAction>> = Object.freeze({
  // "A Shuffle or ShuffleReply with more than maxEntriesPerMessage entries closes the link with LIMIT."
  entriesOverLimit: { close: 'LIMIT' as const },
  invalidNode: 'drop' as const,
  invalidOrigin: 'drop' as const,
});

/**
 * The counter (`drop.<counter>`) of each entry removed for a missing or invalid NodeInfo. Such
 * an entry costs neither the message nor the link: a peer gossips entries it learned from others
 * and could not all judge, and the rest of its message is sound.
 */
export const INVALID_ENTRY_COUNTER = 'entry-invalid';

/**
 * Passed: the message a strategy gets, without the `invalidEntries` entries that were removed.
 * Refused: the problem, the counter it is dropped under (`drop.<counter>`) and why.
 */
export type MembershipVerdict =
  | { ok: true; message: CheckedMembershipMessage; invalidEntries: number }
  | { ok: false; problem: MembershipProblem; counter: string; detail: string };

/** The first rule `message` breaks; else the message as a strategy may get it. */
export function checkMembershipMessage(message: MembershipMessage, maxEntries: number): MembershipVerdict {
  switch (message.kind) {
    case 'forwardJoin': {
      const problem = nodeInfoProblem(message.body.node);
      if (problem === undefined) return passed(message, 0);
      return { ok: false, problem: 'invalidNode', counter: 'forwardJoin-invalid-node', detail: problem };
    }
    case 'shuffle':
    case 'shuffleReply': {
      const count = message.body.entries.length;
      if (count > maxEntries) {
        const detail = `${count} entries, at most ${maxEntries}`;
        return { ok: false, problem: 'entriesOverLimit', counter: `${message.kind}-limit`, detail };
      }
      if (message.kind === 'shuffle') {
        const problem = nodeInfoProblem(message.body.origin);
        if (problem !== undefined) {
          return { ok: false, problem: 'invalidOrigin', counter: 'shuffle-invalid-origin', detail: problem };
        }
      }
      const entries = message.body.entries.filter(isValidEntry);
      const removed = count - entries.length;
      // The message is rebuilt only when an entry goes: the common case costs no copy.
      const kept = removed === 0 ? message : { ...message, body: { ...message.body, entries } };
      return passed(kept as MembershipMessage, removed);
    }
    default:
      return passed(message, 0);
  }
}

function isValidEntry(entry: PeerEntry): entry is CheckedPeerEntry {
  return nodeInfoProblem(entry.node) === undefined;
}

/** The one place a message becomes a `CheckedMembershipMessage`: after every rule above held. */
function passed(message: MembershipMessage, invalidEntries: number): MembershipVerdict {
  return { ok: true, message: message as CheckedMembershipMessage, invalidEntries };
}
