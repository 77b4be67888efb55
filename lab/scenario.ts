/**
 * What a lab run does, as a list of steps. Flags build the default list; a scenario file
 * (`--scenario FILE`, JSON) gives any other. Example file:
 *
 *   { "steps": [ { "grow": 200 }, { "settle": true }, { "traffic": "steady" },
 *                { "partition": 2 }, { "traffic": "partitioned" }, { "heal": "partition" },
 *                { "traffic": "partition-healed" }, { "churn": { "durationMs": 20000, "perSecond": 2 } } ] }
 */

export type Step =
  /** Grows the mesh to this many nodes, each joining through node 0, staggered. */
  | { grow: number }
  /**
   * Waits until the overlay settled by its strategy's rule (lab/overlay-rules.ts), watched since
   * the last join; the next phase gets the converge time.
   */
  | { settle: true }
  /** Sends the phase's broadcasts and direct messages and measures them under this phase name. */
  | { traffic: string }
  /** Kills this fraction of the live nodes at once, without Leave. */
  | { kill: number }
  /** This fraction of the live nodes leaves gracefully. */
  | { leave: number }
  /** Cuts the mesh into this many groups (memory transport only). */
  | { partition: number }
  /**
   * Waits until the overlay healed by its strategy's rule: after a failure (watched since the
   * kill or leave), or after lifting a partition (watched from then); the next phase gets the
   * heal time.
   */
  | { heal: 'failure' | 'partition' }
  /** Nodes die and join at a steady rate while traffic flows; measured as phase `churn`. */
  | { churn: { durationMs: number; perSecond: number } };

export interface ScenarioFlags {
  nodes: number;
  kill: number;
  leave: number;
  partition: boolean;
  churnPerSecond: number;
  churnMs: number;
}

/** The default story: grow, settle, measure, break, measure at once, heal, measure again. */
export function stepsFromFlags(flags: ScenarioFlags): Step[] {
  const steps: Step[] = [{ grow: flags.nodes }, { traffic: 'grow' }, { settle: true }, { traffic: 'steady' }];
  if (flags.kill > 0) {
    steps.push({ kill: flags.kill }, { traffic: 'after-kill' }, { heal: 'failure' }, { traffic: 'healed' });
  }
  if (flags.leave > 0) {
    steps.push(
      { leave: flags.leave },
      { traffic: 'after-leave' },
      { heal: 'failure' },
      { traffic: 'healed-leave' },
    );
  }
  if (flags.partition) {
    steps.push(
      { partition: 2 },
      { traffic: 'partitioned' },
      { heal: 'partition' },
      { traffic: 'partition-healed' },
    );
  }
  if (flags.churnPerSecond > 0)
    steps.push({ churn: { durationMs: flags.churnMs, perSecond: flags.churnPerSecond } });
  return steps;
}

/** A scenario file that is not JSON or not a scenario; the message names the first bad step. */
export class ScenarioError extends Error {}

/** Parses and checks a scenario file's JSON; throws a ScenarioError naming the first bad step. */
export function parseScenario(text: string): Step[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(`a scenario is JSON: ${(err as Error).message}`);
  }
  const steps = (parsed as { steps?: unknown } | null)?.steps;
  if (!Array.isArray(steps)) throw new ScenarioError('a scenario is {"steps": [...]}');
  return steps.map((step: unknown, i: number) => checkStep(step, i));
}

function checkStep(step: unknown, index: number): Step {
  const bad = (why: string): Error => new ScenarioError(`scenario step ${index + 1}: ${why}`);
  if (typeof step !== 'object' || step === null) throw bad('not an object');
  const [key, ...others] = Object.keys(step);
  if (!key || others.length > 0) throw bad('each step has exactly one key');
  const value = (step as Record<string, unknown>)[key];
  const isFraction = typeof value === 'number' && value > 0 && value < 1;
  switch (key) {
    case 'grow':
      if (!Number.isInteger(value) || (value as number) < 1) throw bad('grow takes a node count');
      return { grow: value as number };
    case 'settle':
      return { settle: true };
    case 'traffic':
      if (typeof value !== 'string' || value.length === 0) throw bad('traffic takes a phase name');
      return { traffic: value };
    case 'kill':
    case 'leave':
      if (!isFraction) throw bad(`${key} takes a fraction between 0 and 1`);
      return key === 'kill' ? { kill: value as number } : { leave: value as number };
    case 'partition':
      if (!Number.isInteger(value) || (value as number) < 2) throw bad('partition takes a group count >= 2');
      return { partition: value as number };
    case 'heal':
      if (value !== 'failure' && value !== 'partition') throw bad('heal takes "failure" or "partition"');
      return { heal: value };
    case 'churn': {
      const { durationMs, perSecond } = (value ?? {}) as { durationMs?: unknown; perSecond?: unknown };
      const validDuration = Number.isInteger(durationMs) && (durationMs as number) >= 1;
      const validRate = typeof perSecond === 'number' && Number.isFinite(perSecond) && perSecond >= 0;
      if (!validDuration || !validRate) throw bad('churn takes {durationMs >= 1, perSecond >= 0}');
      return { churn: { durationMs: durationMs as number, perSecond: perSecond as number } };
    }
    default:
      throw bad(`unknown step '${key}'`);
  }
}
