/**
 * The checks docs/protocol.md section 4 sets on a membership message as a whole, made once where
 * the message enters the node, before any strategy sees it, and what each failure costs the
 * sender, in one table. What passes is a `CheckedMembershipMessage`: the NodeInfo a ForwardJoin
 * announces, or a Shuffle's origin, is present and valid (its id is the hash of its key), and a
 * Shuffle or ShuffleReply carries at most `maxEntriesPerMessage` entries. Each entry's NodeInfo is
 * judged where it is merged (`passiveRefusal`): an invalid entry is skipped, not the message.
 */
import { nodeInfoProblem } from '../crypto/identity.js';
import type { MembershipMessage } from '../membership/strategy.js';
import type { ErrorCodeName } from '../proto/messages.js';

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

export type MembershipVerdict =
  { ok: true } | { ok: false; problem: MembershipProblem; counter: string; detail: string };

/** The first rule `message` breaks, with the counter it is dropped under (`drop.<counter>`). */
export function checkMembershipMessage(message: MembershipMessage, maxEntries: number): MembershipVerdict {
  switch (message.kind) {
    case 'forwardJoin': {
      const problem = nodeInfoProblem(message.body.node);
      if (problem === undefined) return { ok: true };
      return { ok: false, problem: 'invalidNode', counter: 'forwardJoin-invalid-node', detail: problem };
    }
    case 'shuffle':
    case 'shuffleReply': {
      const entries = message.body.entries.length;
      if (entries > maxEntries) {
        const detail = `${entries} entries, at most ${maxEntries}`;
        return { ok: false, problem: 'entriesOverLimit', counter: `${message.kind}-limit`, detail };
      }
      if (message.kind === 'shuffleReply') return { ok: true };
      const problem = nodeInfoProblem(message.body.origin);
      if (problem === undefined) return { ok: true };
      return { ok: false, problem: 'invalidOrigin', counter: 'shuffle-invalid-origin', detail: problem };
    }
    default:
      return { ok: true };
  }
}
