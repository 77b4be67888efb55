/**
 * The `p2pchat` subcommands other than the chat node, by name: the binary's one link to the lab,
 * so that cli/ and lab/ import nothing from each other. Each is loaded only when run (the lab
 * pulls in the whole cluster machinery a chat node never needs) and resolves to an exit code.
 */
export type SubcommandName = 'lab' | 'keygen';

const SUBCOMMANDS: Readonly<Record<SubcommandName, (argv: string[]) => Promise<number>>> = {
  lab: async (argv) => (await import('./lab/cli.js')).runLabCli(argv),
  keygen: async (argv) => (await import('./cli/keygen.js')).runKeygen(argv),
};

/** Runs subcommand `name` with the arguments after it; resolves to the process exit code. */
export function runSubcommand(name: SubcommandName, argv: string[]): Promise<number> {
  return SUBCOMMANDS[name](argv);
}
